"""The parts of ``graphrec cypher`` that need no store: Cypher literal parameters, script items with their
client commands, the names a statement uses, plans, output and hints; and a refused connection failing
at once, without the driver's retry loop."""

from __future__ import annotations

import logging
import math
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.commands.cypher import ParamError, parse_params
from graphrec.commands.cypher_hints import failure_hint, number_id_hints
from graphrec.commands.cypher_output import elide_vectors, render, render_plan
from graphrec.graph.cypher.literals import LiteralError, parse_assignment, parse_literal
from graphrec.graph.cypher.names import statement_names
from graphrec.graph.cypher.script import ScriptItem, plan_prefix, script_items, split_cypher_script
from graphrec.graph.errors import BadStoreInput, GraphNotCreated, NotFoundInStore
from graphrec.graph.neo4j_console import plan_lines
from graphrec.graph.records import CypherResult

QUERIES = Path(__file__).resolve().parents[1] / "graph" / "queries"


def test_literals_are_typed_as_cypher_types_them() -> None:
    assert parse_literal("'42'") == "42" and parse_literal("42") == 42
    assert parse_literal('"O\'Brien"') == "O'Brien" and parse_literal(r"'O\'Brien'") == "O'Brien"
    assert parse_literal(r"'tab\there \u00e9'") == "tab\there é"
    assert parse_literal("-7") == -7 and parse_literal("0") == 0 and parse_literal("0x1F") == 31
    assert parse_literal("0o17") == 15 and parse_literal("1_000") == 1000
    assert parse_literal("2.5") == 2.5 and parse_literal(".5") == 0.5 and parse_literal("1e3") == 1000.0
    assert parse_literal("TRUE") is True and parse_literal("false") is False and parse_literal("null") is None
    assert math.isinf(parse_literal("-Infinity")) and math.isnan(parse_literal("NaN"))
    assert parse_literal(" [1, 'a', [true], {k: null}] ") == [1, "a", [True], {"k": None}]
    assert parse_literal("{id: 'u1', `odd key`: 2.0, ids: ['1', '2']}") == {
        "id": "u1",
        "odd key": 2.0,
        "ids": ["1", "2"],
    }
    assert parse_literal("[]") == [] and parse_literal("{}") == {}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("u1", "is not a Cypher literal (a string needs quotes: 'u1'"),
        ("007", "leading zero: quote it for a string ('007')"),
        ("'open", "unclosed string"),
        ("[1, 2", "expected ',' or ']'"),
        ("{a: 1, a: 2}", "key 'a' given twice"),
        ("{a 1}", "expected ':'"),
        ("1 2", "unexpected text after the value"),
        ("12abc", "not a number"),
        (r"'\q'", "unknown escape"),
        ("toUpper('x')", "not a Cypher literal"),
        ("99999999999999999999", "64-bit range"),
        ("", "expected a value"),
    ],
)
def test_what_is_not_a_literal_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(LiteralError, match="position") as caught:
        parse_literal(text)
    assert reason in str(caught.value)


def test_assignments_and_the_command_line_options() -> None:
    assert parse_assignment("user => '42'") == {"user": "42"}
    assert parse_assignment(" `my param`=>[1,2] ") == {"my param": [1, 2]}
    assert parse_assignment("{a: 1, b: 'x'}") == {"a": 1, "b": "x"}
    for bad in ("user = 'x'", "=> 1", "user =>", "{a: 1} extra"):
        with pytest.raises(LiteralError):
            parse_assignment(bad)
    assert parse_params(["user => '42'", '{k: 5, s: "it\'s"}'], ["item='i7'", "n=3"]) == {
        "user": "42",
        "k": 5,
        "s": "it's",
        "item": "i7",
        "n": 3,
    }
    with pytest.raises(ParamError, match=r"^-P 'user => 42x'"):
        parse_params(["user => 42x"], [])
    with pytest.raises(ParamError, match=r"^--param 'item=i7': 'i7' is not a Cypher literal"):
        parse_params([], ["item=i7"])
    with pytest.raises(ParamError, match="expected name=value"):
        parse_params([], ["1x=3"])


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-P", "user => u1"], "-P 'user => u1'"),
        (["--param", "user=007"], "--param 'user=007'"),
        (["--param", "oops"], "expected name=value"),
        (["--format", "xml"], "--format"),
    ],
)
def test_a_bad_option_is_one_line_exit_2_before_any_store_is_opened(args: list[str], named: str) -> None:
    r = CliRunner().invoke(app, ["cypher", "-c", "RETURN 1", *args])
    assert r.exit_code == 2, r.output
    line = r.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line and named in line, line


def test_script_items_keep_client_commands_in_place() -> None:
    text = (
        ":param user => 'u;1';\n"
        "// a comment\n"
        ":begin\n"
        "MATCH (n) WHERE n.id = ':not a command'\nRETURN n;\n"
        "  :rollback\n"
        "RETURN 1;"
    )
    assert script_items(text) == [
        ScriptItem(1, ":param user => 'u;1'", command=True),
        ScriptItem(3, ":begin", command=True),
        ScriptItem(4, "// a comment\n\nMATCH (n) WHERE n.id = ':not a command'\nRETURN n"),
        ScriptItem(6, ":rollback", command=True),
        ScriptItem(7, "RETURN 1"),
    ]
    assert [line for line, _ in split_cypher_script(text)] == [4, 7]


def test_plan_requests_are_recognised_after_comments() -> None:
    assert plan_prefix("// why\nexplain MATCH (n) RETURN n") == ("EXPLAIN", "MATCH (n) RETURN n")
    assert plan_prefix("PROFILE\nRETURN 1") == ("PROFILE", "RETURN 1")
    assert plan_prefix("RETURN 'EXPLAIN x'") == (None, "RETURN 'EXPLAIN x'")
    assert plan_prefix("EXPLAINED") == (None, "EXPLAINED")


def test_statement_names() -> None:
    names = statement_names(
        "MATCH (u:Usr {id: $user})-[e:INTERACTED|:RATED]->(i:`My Item`) "
        "WHERE i:Cat AND e.wieght > 1 AND u.name = 'a:B' // (x:Comment)\n"
        "WITH u, {k: 1} AS m, [x IN $rows | x.item] AS xs "
        "CALL db.idx.vector.queryNodes('Item', 'embedding', 5, $v) YIELD node RETURN node.id, i.title"
    )
    assert names.labels == {"Usr", "My Item", "Cat"}
    assert names.types == {"INTERACTED", "RATED"}
    assert names.keys == {"id", "wieght", "name", "title"}  # not the map key k, not x.item or node.id
    assert statement_names("RETURN 1 AS x").labels == frozenset()


def test_neo4j_plans_print_one_operator_per_line() -> None:
    profile = {
        "operatorType": "ProduceResults@neo4j",
        "args": {"Details": "n", "EstimatedRows": 2.0},
        "rows": 2,
        "dbHits": 0,
        "children": [{"operatorType": "NodeByLabelScan@neo4j", "args": {"Details": "n:User"}, "rows": 2, "dbHits": 3}],
    }
    assert plan_lines(profile) == [
        "ProduceResults | n | estimated rows 2 | rows 2, db hits 0",
        "    NodeByLabelScan | n:User | rows 2, db hits 3",
    ]
    assert render_plan(CypherResult([], [], plan=("Results", "    Project")), "EXPLAIN") == (
        "EXPLAIN plan:\n  Results\n      Project"
    )


def test_output_elides_embeddings_and_cuts_cells_unless_asked() -> None:
    node = {"_labels": ["Item"], "id": "i1", "embedding": [0.5] * 64, "centroid": [1.0, 2.0], "ints": list(range(9))}
    result = CypherResult(["i", "e"], [[node, [0.25] * 64]], counters=(("properties set", 2),))
    assert elide_vectors(node) == {**node, "embedding": "<64 floats>"}
    table = render(result, "table")
    assert "<64 floats>" in table and "…" in table and table.endswith("(1 row; properties set: 2)")
    full = render(result, "table", width=0, show_embeddings=True)
    assert "…" not in full and full.count("0.5") == 64 and full.count("0.25") == 64
    assert render(result, "json", show_embeddings=False).count("<64 floats>") == 1


def _hint(exc: Exception, statement: str = "MATCH (n) RETURN n", **kw: Any) -> str:
    return failure_hint(exc, statement, **{"store": "falkordb", "write": False, "file": None, **kw})


def test_hints_name_what_to_do_next() -> None:
    assert "graphrec init" in _hint(GraphNotCreated("graph 'g' does not exist yet"))
    dialect = BadStoreInput("FalkorDB: Unknown function 'datetime'")
    assert "graph/queries/falkordb/" in _hint(dialect)
    saved = QUERIES / "02-user-strongest-interactions.cypher"
    assert _hint(dialect, file=saved) == (
        f"this is the Neo4j form of a saved query; on FalkorDB run {QUERIES / 'falkordb' / saved.name}"
    )
    assert _hint(dialect, store="neo4j") == ""
    gds = "CALL gds.graph.list()"
    assert "Neo4j" in _hint(BadStoreInput("Procedure `gds.graph.list` is not registered"), gds)
    assert "Graph Data Science plugin" in _hint(NotFoundInStore("no such procedure"), gds, store="neo4j")
    refused = BadStoreInput("FalkorDB: graph.RO_QUERY is to be executed only on read-only queries")
    assert _hint(refused) == "read-only: add --write to allow writes"
    assert _hint(refused, write=True) == ""


def test_number_id_hints() -> None:
    statement = "MATCH (u:User {id: $user})-[e]->(i) WHERE i.id IN $items AND $other = u.id RETURN i LIMIT $limit"
    hints = number_id_hints(statement, {"user": 42, "items": [1, 2], "other": "7", "limit": 5})
    assert hints == [
        "$user is 42, a number, and graphrec ids are strings: quote it (-P \"user => '42'\")",
        "$items holds numbers, and graphrec ids are strings: quote them (['1', '2'])",
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("scheme", ["bolt", "neo4j", "falkor"])
def test_a_refused_connection_fails_at_once(
    scheme: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """One attempt, no retry loop (the analyst's statement is not a transaction function the driver
    re-runs for 30 s): exit 3, one line."""
    monkeypatch.setenv("GRAPHREC_GRAPH_URI", f"{scheme}://127.0.0.1:{_free_port()}")
    monkeypatch.setenv("GRAPHREC_GRAPH_PASSWORD", "unused")
    with caplog.at_level(logging.DEBUG):
        r = CliRunner().invoke(app, ["cypher", "-c", "RETURN 1 AS x"])
    assert r.exit_code == 3, (r.output, r.exception)
    line = r.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line and "unavailable" in line, line
    assert not [rec for rec in caplog.records if "will be retried" in rec.getMessage()]
