"""``graphrec cypher`` and ``graphrec doctor`` on both stores: -c, -f, --param, formats, read-only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from saved_queries import by_name
from typer.testing import CliRunner

from factories import T0, delta
from graphrec.cli import app
from graphrec.commands.cypher import ParamError, parse_params, parse_value, script_params
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.port import GraphStore


@pytest.fixture(params=["falkordb", "neo4j"])
def configured(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    starts_processes: None,
) -> Iterator[GraphStore]:
    """A store with a few edges, and the environment pointing graphrec at it."""
    if request.param == "falkordb":
        path = tmp_path_factory.mktemp("cypher-cli")
        store: GraphStore = FalkorDBStore.embedded(path, graph="cli", die_with_parent=True)
        monkeypatch.setenv("GRAPHREC_GRAPH_URI", f"embedded:{path}")
        monkeypatch.setenv("GRAPHREC_FALKORDB_GRAPH", "cli")
    else:
        server = request.getfixturevalue("neo4j_server")
        store = request.getfixturevalue("neo4j_store")
        monkeypatch.setenv("GRAPHREC_GRAPH_URI", server.uri)
        monkeypatch.setenv("GRAPHREC_GRAPH_USER", server.user)
        monkeypatch.setenv("GRAPHREC_GRAPH_PASSWORD", server.password)
    store.upsert_interactions(
        [delta("u1", "i1", 2.0, ts=T0), delta("u1", "i2", 1.0, ts=T0 + 1), delta("u2", "i1", 0.5, ts=T0 + 2)]
    )
    yield store
    store.clear()
    if request.param == "falkordb":
        store.close()


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["cypher", *args])


def test_command_with_params_prints_a_table(configured: GraphStore) -> None:
    r = _invoke(
        "-c",
        "MATCH (u:User {id: $user})-[e:INTERACTED]->(i:Item) RETURN i.id AS item, e.weight AS w ORDER BY w DESC",
        "--param",
        "user=u1",
    )
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[1].split("|")[1:3] == [" item ", " w   "] or "item" in lines[1]
    assert [line.split("|")[1].strip() for line in lines[3:5]] == ["i1", "i2"]
    assert lines[-1] == "(2 rows)"


def test_json_format_and_node_values(configured: GraphStore) -> None:
    r = _invoke("-c", "MATCH (i:Item {id: $id}) RETURN i", "-p", "id='i1'", "--format", "json")
    assert r.exit_code == 0, r.output
    (row,) = [json.loads(line) for line in r.output.splitlines()]
    assert row["i"]["_labels"] == ["Item"] and row["i"]["id"] == "i1" and row["i"]["degree"] == 2


def test_file_with_param_lines_and_override(configured: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "q.cypher"
    path.write_text(
        ":param user => 'u2';\n:param limit => 5;\n\n// comment\n"
        "MATCH (:User {id: $user})-[e:INTERACTED]->(i:Item) RETURN i.id AS item LIMIT $limit;\n"
    )
    assert _invoke("-f", str(path), "--format", "csv").output.splitlines() == ["item", "i1"]
    out = _invoke("-f", str(path), "--format", "csv", "--param", "user=u1").output.splitlines()
    assert out[0] == "item" and sorted(out[1:]) == ["i1", "i2"]


def test_saved_query_runs_from_its_file(configured: GraphStore) -> None:
    r = _invoke("-f", str(by_name("cold-and-unconnected-items")), "--format", "json", "--param", "max_degree=1")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert {row["item"] for row in rows} == {"i2"} and rows[0]["status"] == "cold"


def test_read_only_unless_write(configured: GraphStore) -> None:
    r = _invoke("-c", "CREATE (:Item {id: 'x'})")
    assert r.exit_code == 1
    assert not configured.item_exists(item_id="x")
    r = _invoke("-c", "CREATE (:Item {id: $id})", "--param", "id=x", "--write")
    assert r.exit_code == 0, r.output
    assert configured.item_exists(item_id="x")


def test_a_bad_statement_is_an_error_not_a_crash(configured: GraphStore) -> None:
    r = _invoke("-c", "MATCH (n RETURN n")
    assert r.exit_code == 1 and "error (statement at line 1)" in r.output


def test_parameter_parsing() -> None:
    assert parse_params(["a=1", "b=2.5", "c='x y'", "d=i7", "e=true", "f=null", "g=['a', 'b']"]) == {
        "a": 1,
        "b": 2.5,
        "c": "x y",
        "d": "i7",
        "e": True,
        "f": None,
        "g": ["a", "b"],
    }
    assert script_params(":param user => 'u1';\nMATCH (n) RETURN n;\n:param k => 10") == {"user": "u1", "k": 10}
    assert parse_value('"quoted"') == "quoted"
    for bad in (["novalue"], ["1x=3"], ["g=[1,"]):
        with pytest.raises(ParamError):
            parse_params(bad)
    r = CliRunner().invoke(app, ["cypher", "-c", "RETURN 1", "--param", "oops"])
    assert r.exit_code == 2 and "name=value" in r.output


def test_statements_from_stdin(configured: GraphStore) -> None:
    """Piped input (not a terminal) runs as a script, `:param` lines included."""
    r = CliRunner().invoke(
        app,
        ["cypher", "--format", "csv"],
        input=":param user => 'u2';\nMATCH (:User {id: $user})-[:INTERACTED]->(i:Item) RETURN i.id AS item;\n",
    )
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["item", "i1"]


def test_interactive_prompt(
    configured: GraphStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The terminal prompt: `:param`, `:params`, a statement over two lines, an error that does not end it."""
    from graphrec.commands.cypher import _prompt

    lines = iter(
        [
            ":param user => 'u2'",
            ":params",
            "MATCH (:User {id: $user})-[:INTERACTED]->(i:Item)",
            "RETURN i.id AS item;",
            "MATCH (n RETURN n;",
            "RETURN 1 AS one;",
            ":exit",
            "RETURN 2;",
        ]
    )
    monkeypatch.setattr("builtins.input", lambda _prompt_text="": next(lines))
    _prompt(configured, {}, fmt="csv", write=False)
    out, err = capsys.readouterr()
    assert out.splitlines() == ['{"user": "u2"}', "item", "i1", "one", "1"]
    assert "error (statement at line 1)" in err
    assert next(lines) == "RETURN 2;", "stopped at :exit"


def test_doctor_reports_ids_that_break_the_rule(configured: GraphStore) -> None:
    from graphrec.graph.records import ItemRecord, UserRecord

    assert CliRunner().invoke(app, ["doctor"]).exit_code == 0
    # written past the API (an old version, another writer): the adapters themselves accept anything
    configured.upsert_users([UserRecord("V "), UserRecord("cafe\u0301")])
    configured.upsert_items([ItemRecord("a/b")])
    r = CliRunner().invoke(app, ["doctor", "--json"])
    assert r.exit_code == 1
    found = json.loads(r.output.splitlines()[0])["bad_ids"]
    assert {(x["id"], x["problem"]) for x in found["User"]} == {
        ("V ", "must not start or end with whitespace"),
        ("cafe\u0301", "is not NFC-normalised"),
    }
    assert [(x["id"], x["problem"]) for x in found["Item"]] == [("a/b", "must not contain '/'")]
