"""``graphrec cypher`` and ``graphrec doctor`` on both stores: -c, -f, -P/--param, formats, read-only, and
what makes it cypher-shell: notifications, plans, transactions (honoured on Neo4j, refused on FalkorDB),
``:use``, a script stopped at its first error, hints, embeddings elided."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from saved_queries import by_name
from typer.testing import CliRunner

from factories import T0, delta
from graphrec.cli import app
from graphrec.commands.cypher import Shell
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
        "-P",
        "user => 'u1'",
    )
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[1].split("|")[1:3] == [" item ", " w   "] or "item" in lines[1]
    assert [line.split("|")[1].strip() for line in lines[3:5]] == ["i1", "i2"]
    assert lines[-1] == "(2 rows)"


def test_json_format_and_node_values(configured: GraphStore) -> None:
    r = _invoke("-c", "MATCH (i:Item {id: $id}) RETURN i", "-p", "id='i1'", "--format", "json")
    assert r.exit_code == 0, r.output
    (row,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert row["i"]["_labels"] == ["Item"] and row["i"]["id"] == "i1" and row["i"]["degree"] == 2


def test_file_with_param_lines_and_override(configured: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "q.cypher"
    path.write_text(
        ":param user => 'u2';\n:param limit => 5;\n\n// comment\n"
        "MATCH (:User {id: $user})-[e:INTERACTED]->(i:Item) RETURN i.id AS item LIMIT $limit;\n"
    )
    assert _invoke("-f", str(path), "--format", "csv").stdout.splitlines() == ["item", "i1"]
    out = _invoke("-f", str(path), "--format", "csv", "--param", "user='u1'").stdout.splitlines()
    assert out[0] == "item" and sorted(out[1:]) == ["i1", "i2"]


def test_saved_query_runs_from_its_file(configured: GraphStore) -> None:
    r = _invoke("-f", str(by_name("cold-and-unconnected-items")), "--format", "json", "--param", "max_degree=1")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert {row["item"] for row in rows} == {"i2"} and rows[0]["status"] == "cold"


def test_read_only_unless_write(configured: GraphStore) -> None:
    r = _invoke("-c", "CREATE (:Item {id: 'x'})")
    assert r.exit_code == 1
    assert not configured.item_exists(item_id="x")
    r = _invoke("-c", "CREATE (:Item {id: $id})", "-P", "id => 'x'", "--write")
    assert r.exit_code == 0, r.output
    assert configured.item_exists(item_id="x")


def test_a_bad_statement_is_an_error_not_a_crash(configured: GraphStore) -> None:
    r = _invoke("-c", "MATCH (n RETURN n")
    assert r.exit_code == 1 and "error (statement at line 1)" in r.output


def test_statements_from_stdin(configured: GraphStore) -> None:
    """Piped input (not a terminal) runs as a script, `:param` lines included."""
    r = CliRunner().invoke(
        app,
        ["cypher", "--format", "csv"],
        input=":param user => 'u2';\nMATCH (:User {id: $user})-[:INTERACTED]->(i:Item) RETURN i.id AS item;\n",
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ["item", "i1"]


def test_interactive_prompt(
    configured: GraphStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The terminal prompt: `:param`, `:params`, a statement over two lines, an error that does not end it."""
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
    console = configured.cypher_console()
    Shell(console, {}, "falkordb", fmt="csv").prompt()
    console.close()
    out, err = capsys.readouterr()
    assert out.splitlines() == ['{"user": "u2"}', "item", "i1", "one", "1"]
    assert "error (statement at line 1)" in err
    assert next(lines) == "RETURN 2;", "stopped at :exit"


def _on_neo4j(store: GraphStore) -> bool:
    return not isinstance(store, FalkorDBStore)


def test_string_ids_stay_strings_and_a_number_gets_a_hint(configured: GraphStore) -> None:
    """`'42'` is a string and `42` an integer, as in Cypher; an integer compared with an id finds nothing,
    and the analyst is told why instead of a silent "(0 rows)"."""
    configured.upsert_interactions([delta("42", "007", 1.0, ts=T0)])
    query = "MATCH (u:User {id: $user})-[:INTERACTED]->(i:Item) RETURN i.id AS item"
    r = _invoke("-c", query, "-P", "user => '42'", "--format", "csv")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ["item", "007"]
    r = _invoke("-c", query, "-P", "user => 42", "--format", "csv")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ["item"]
    assert "hint: $user is 42, a number, and graphrec ids are strings" in r.stderr
    r = _invoke("-c", "MATCH (i:Item {id: $i}) RETURN i.id AS id", "-P", "i => '007'", "--format", "csv")
    assert r.stdout.splitlines() == ["id", "007"]


def test_parameters_with_apostrophes_lists_and_maps(configured: GraphStore) -> None:
    r = _invoke(
        "-c",
        "RETURN $name AS name, $ids AS ids, $m.k AS k",
        "-P",
        'name => "O\'Brien"',
        "-P",
        "{ids: ['u1', 'u2'], m: {k: 1.5}}",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"name": "O'Brien", "ids": ["u1", "u2"], "k": 1.5}


def test_an_unknown_label_is_a_warning_not_a_silent_empty_answer(configured: GraphStore) -> None:
    r = _invoke("-c", "MATCH (u:Usr)-[:INTERACTED]->(i:Item) RETURN u.id AS user")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[-1] == "(0 rows)"
    (warning,) = [line for line in r.stderr.splitlines() if line.startswith("warning:") and "Usr" in line]
    assert "label" in warning.lower()
    r = _invoke("-c", "MATCH (u:User)-[:INTERACTED]->(i:Item) RETURN u.id AS user")
    assert not [line for line in r.stderr.splitlines() if line.startswith("warning:")], r.stderr


def test_explain_and_profile_print_the_plan(configured: GraphStore) -> None:
    query = "MATCH (u:User {id: $user})-[:INTERACTED]->(i:Item) RETURN i.id AS item"
    r = _invoke("-c", f"EXPLAIN {query}", "-P", "user => 'u1'")
    assert r.exit_code == 0, r.output
    plan = r.stdout[r.stdout.index("EXPLAIN plan:") :].splitlines()
    assert len(plan) >= 3 and any("User" in line for line in plan), r.stdout
    assert "i1" not in r.stdout  # explained, not run
    r = _invoke("-c", f"PROFILE {query}", "-P", "user => 'u1'")
    assert r.exit_code == 0, r.output
    profile = r.stdout[r.stdout.index("PROFILE plan:") :]
    assert ("Records produced" if not _on_neo4j(configured) else "db hits") in profile, r.stdout


def test_profile_of_a_write_needs_write(configured: GraphStore) -> None:
    r = _invoke("-c", "PROFILE CREATE (:Item {id: 'profiled'})")
    assert r.exit_code == 1, r.output
    assert "error (statement at line 1)" in r.stderr
    assert not configured.item_exists(item_id="profiled")
    r = _invoke("-c", "PROFILE CREATE (:Item {id: 'profiled'})", "--write")
    assert r.exit_code == 0, r.output
    assert "PROFILE plan:" in r.stdout and configured.item_exists(item_id="profiled")


def test_a_rolled_back_write_is_not_committed(configured: GraphStore) -> None:
    """`:begin` ... `:rollback`: on Neo4j nothing is written; on FalkorDB (no multi-statement transactions)
    `:begin` is refused and the script stops there, so the write meant to be rolled back never runs."""
    script = ":begin\nCREATE (:Item {id: 'tx1'});\n:rollback\nCREATE (:Item {id: 'after'});\n"
    r = _invoke("-c", script, "--write")
    assert not configured.item_exists(item_id="tx1")
    if _on_neo4j(configured):
        assert r.exit_code == 0, r.output
        assert "transaction rolled back" in r.stderr and configured.item_exists(item_id="after")
    else:
        assert r.exit_code == 1
        assert "error (:begin at line 1): FalkorDB has no multi-statement transactions" in r.stderr
        assert not configured.item_exists(item_id="after")


# Neo4j only: FalkorDB has no multi-statement transactions (its refusal: test_a_rolled_back_write_is_not_committed)
@pytest.mark.parametrize("configured", ["neo4j"], indirect=True)
def test_transactions_on_neo4j(configured: GraphStore) -> None:
    r = _invoke("-c", ":begin\nCREATE (:Item {id: 'c1'});\nCREATE (:Item {id: 'c2'});\n:commit", "--write")
    assert r.exit_code == 0, r.output
    assert configured.item_exists(item_id="c1") and configured.item_exists(item_id="c2")
    # a failure inside the transaction rolls it back and stops the script
    r = _invoke("-c", ":begin\nCREATE (:Item {id: 'f1'});\nRETURN 1/0;\nCREATE (:Item {id: 'f2'});\n:commit", "--write")
    assert r.exit_code == 1
    assert "the open transaction was rolled back" in r.stderr
    assert not configured.item_exists(item_id="f1") and not configured.item_exists(item_id="f2")
    # a script that ends inside a transaction commits nothing
    r = _invoke("-c", ":begin\nCREATE (:Item {id: 'open'});", "--write")
    assert r.exit_code == 1 and "ended inside a transaction" in r.stderr
    assert not configured.item_exists(item_id="open")
    # a read-only session refuses writes inside a transaction too
    r = _invoke("-c", ":begin\nCREATE (:Item {id: 'ro'});\n:commit")
    assert r.exit_code == 1 and not configured.item_exists(item_id="ro")
    assert "hint: read-only: add --write" in r.stderr
    # :use is refused inside a transaction
    r = _invoke("-c", ":begin\n:use system\n:rollback")
    assert r.exit_code == 1 and "cannot :use another database inside a transaction" in r.stderr


def test_use_switches_the_graph_or_database(configured: GraphStore) -> None:
    r = _invoke("-c", ":use elsewhere\nMATCH (n) RETURN count(n) AS n;")
    assert r.exit_code == 1
    assert "using elsewhere" in r.stderr
    if _on_neo4j(configured):  # Neo4j Community has one user database: another is refused by the server
        assert "error (statement at line 2)" in r.stderr
    else:
        assert "graph 'elsewhere' does not exist yet" in r.stderr and "graphrec init" in r.stderr
    r = _invoke("-c", ":use elsewhere\n:use\nMATCH (u:User) RETURN count(u) AS n;", "--format", "csv")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ["n", "2"]


def test_unknown_client_commands_and_errors_stop_the_script(configured: GraphStore) -> None:
    r = _invoke("-c", "CREATE (:Item {id: 's1'});\n:bogus\nCREATE (:Item {id: 's2'});", "--write")
    assert r.exit_code == 1 and "error (:bogus at line 2): unknown client command :bogus" in r.stderr
    assert configured.item_exists(item_id="s1") and not configured.item_exists(item_id="s2")
    r = _invoke("-c", "MATCH (n RETURN n;\nCREATE (:Item {id: 's3'});", "--write")
    assert r.exit_code == 1 and not configured.item_exists(item_id="s3")


# FalkorDB only: the test harness's Neo4j has GDS and speaks every form, so it needs no hint
@pytest.mark.parametrize("configured", ["falkordb"], indirect=True)
def test_hints_for_neo4j_only_forms_and_gds(configured: GraphStore) -> None:
    r = _invoke("-f", str(by_name("user-strongest-interactions")))
    assert r.exit_code == 1
    assert "hint: this is the Neo4j form of a saved query; on FalkorDB run" in r.stderr
    assert "falkordb/02-user-strongest-interactions.cypher" in r.stderr
    r = _invoke("-c", "CALL gds.graph.list()")
    assert r.exit_code == 1 and "hint: gds.* procedures are Neo4j's Graph Data Science" in r.stderr
    # a saved query whose header says `requires: neo4j-gds` is refused before it runs, in one line
    r = _invoke("-f", str(by_name("gds-louvain-communities")))
    assert r.exit_code == 2 and "needs Neo4j GDS" in r.stderr and "syntax" not in r.stderr.lower(), r.output


def test_embeddings_are_elided_unless_asked_and_cells_cut_unless_asked(configured: GraphStore) -> None:
    vectors = np.linspace(0.1, 0.9, 2 * 16, dtype=np.float32).reshape(2, 16)
    configured.write_embeddings(label="Item", ids=["i1", "i2"], vectors=vectors, model_version="v1")
    query = "MATCH (i:Item {id: 'i1'}) RETURN i, i.embedding AS e"
    r = _invoke("-c", query, "--format", "json")
    row = json.loads(r.stdout)
    assert row["i"]["embedding"] == "<16 floats>" and len(row["e"]) == 16
    row = json.loads(_invoke("-c", query, "--format", "json", "--show-embeddings").stdout)
    assert len(row["i"]["embedding"]) == 16
    table = _invoke("-c", query).stdout
    assert "…" in table
    full = _invoke("-c", query, "--width", "0", "--show-embeddings").stdout
    assert "…" not in full and full.count(",") >= 2 * 15


def test_a_new_embedded_store_says_the_graph_does_not_exist_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts_processes: None
) -> None:
    """Before `graphrec init`, even `RETURN 1` says what is wrong instead of "(0 rows)"."""
    monkeypatch.setenv("GRAPHREC_GRAPH_URI", f"embedded:{tmp_path}")
    monkeypatch.setenv("GRAPHREC_FALKORDB_GRAPH", "fresh")
    holder = FalkorDBStore.embedded(tmp_path, graph="fresh", die_with_parent=True)  # no orphan server
    try:
        r = _invoke("-c", "RETURN 1 AS x")
        assert r.exit_code == 1
        assert "(0 rows)" not in r.stdout
        assert "graph 'fresh' does not exist yet" in r.stderr and "run `graphrec init`" in r.stderr
        assert CliRunner().invoke(app, ["init"]).exit_code == 0
        r = _invoke("-c", "RETURN 1 AS x", "--format", "csv")
        assert r.exit_code == 0 and r.stdout.splitlines() == ["x", "1"]
    finally:
        holder.close()


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
