"""What ``graphrec neo4j start`` writes and checks before any JVM runs: the Browser guide generated
from the saved queries, the 0600 password file, the ``.env`` update, the stale pid file, the refusal
of a taken port and of a short password (one line, exit 2). No process starts here."""

from __future__ import annotations

import html
import os
import re
import socket
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.data.errors import UserError
from graphrec.graph.cypher.script import split_cypher_script
from graphrec.neo4j_local import credentials, server
from graphrec.neo4j_local.env_file import update_env_file
from graphrec.neo4j_local.guide import guide_html, params_command, read_saved_query, saved_queries
from graphrec.neo4j_local.layout import Layout

REPO = Path(__file__).resolve().parents[2]
QUERIES = REPO / "graph" / "queries"

SAMPLE = """:param user => 'u1';
:param limit => 20;

// A user's items, strongest first.
// Weights are <decayed> & capped.
//   weight   the policy weight
//   limit    rows at most
MATCH (u:User {id: $user})-[e:INTERACTED]->(i:Item)
// a comment inside the query stays in it
RETURN i.id, e.weight ORDER BY e.weight DESC LIMIT $limit;
"""


def _runnable_blocks(page: str) -> list[str]:
    return [html.unescape(b) for b in re.findall(r'<pre class="pre-scrollable code runnable">(.*?)</pre>', page, re.S)]


def test_a_saved_query_becomes_a_slide_with_its_notes_params_and_query(tmp_path: Path) -> None:
    path = tmp_path / "02-user-items.cypher"
    path.write_text(SAMPLE, encoding="utf-8")
    query = read_saved_query(path)
    assert query.title == "02 · user items"
    assert query.params == [("user", "'u1'"), ("limit", "20")]
    assert query.notes[:2] == ["A user's items, strongest first.", "Weights are <decayed> & capped."]
    assert len(query.statements) == 1 and query.statements[0].startswith("MATCH (u:User")
    assert "a comment inside the query stays in it" in query.statements[0]
    page = guide_html([query])
    assert page.count("<slide") == 2  # the index, then the query
    assert "Weights are &lt;decayed&gt; &amp; capped." in page  # escaped, not markup
    assert "<pre>  weight   the policy weight\n  limit    rows at most</pre>" in page  # the term table kept
    # the values go to Neo4j as Cypher (Browser would make `:params {limit: 20}` the float 20.0)
    params = ":param [{user, limit}] => { RETURN 'u1' AS `user`, 20 AS `limit` }"
    assert _runnable_blocks(page) == [params, query.statements[0]]


def test_the_guide_holds_every_saved_query_file_and_its_statements() -> None:
    """Generated from the files themselves: whatever they say today, every file and statement is in it."""
    queries = saved_queries(QUERIES)
    files = sorted(QUERIES.glob("*.cypher"))
    assert [q.name for q in queries] == [f.name for f in files] and len(files) >= 5
    page = guide_html(queries)
    blocks = _runnable_blocks(page)
    for query, file in zip(queries, files, strict=True):
        assert f"<h3>{html.escape(query.title)}</h3>" in page
        expected = [stmt for _, stmt in split_cypher_script(file.read_text(encoding="utf-8"))]
        for statement in expected:  # each statement, less its leading header comment, is a block
            code = "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("//"))
            assert any(code.strip().splitlines()[-1] in block for block in blocks), (file.name, statement[:80])
        if query.params:
            assert params_command(query.params) in blocks


def test_the_password_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "neo4j" / "password"
    path.parent.mkdir()
    path.write_text("old\n")
    os.chmod(path, 0o644)  # a wider mode left from before must not survive
    credentials.store_password(path, "s3cret-pass")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials.read_password(path) == "s3cret-pass"
    assert credentials.read_password(tmp_path / "absent") is None
    assert len(credentials.generate_password()) >= 16


@pytest.mark.parametrize(("password", "reason"), [("short", "8 characters"), ("has a space", "spaces")])
def test_a_password_neo4j_would_refuse_is_refused_first(password: str, reason: str) -> None:
    with pytest.raises(UserError, match=reason) as caught:
        credentials.check_password(password, source="--password")
    assert str(caught.value).startswith("--password: ")


def test_write_env_replaces_its_keys_and_keeps_every_other_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# mine\nGRAPHREC_API_KEYS=k1\nexport GRAPHREC_GRAPH_URI=embedded\n# GRAPHREC_GRAPH_USER=x\n")
    update_env_file(
        env,
        {
            "GRAPHREC_GRAPH_URI": "bolt://localhost:7687",
            "GRAPHREC_GRAPH_USER": "neo4j",
            "GRAPHREC_GRAPH_PASSWORD": 'a "quoted" #pw',
        },
    )
    assert env.read_text().splitlines() == [
        "# mine",
        "GRAPHREC_API_KEYS=k1",
        "GRAPHREC_GRAPH_URI=bolt://localhost:7687",
        "# GRAPHREC_GRAPH_USER=x",
        "GRAPHREC_GRAPH_USER=neo4j",
        'GRAPHREC_GRAPH_PASSWORD="a \\"quoted\\" #pw"',
    ]
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    from dotenv import dotenv_values  # what pydantic-settings reads .env with

    assert dotenv_values(env)["GRAPHREC_GRAPH_PASSWORD"] == 'a "quoted" #pw'


def test_a_stale_pid_file_means_stopped(tmp_path: Path) -> None:
    layout = Layout.under(tmp_path)
    layout.home.mkdir(parents=True)
    layout.pid_file.write_text(f"{os.getpid()}\n")  # alive, but not our launcher
    assert server.status(layout) is None
    assert server.stop(layout, grace_s=1) is None
    assert not layout.pid_file.exists()


def test_a_port_in_use_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=rf"--http-port {port}: the port is in use"):
            server.start(
                Layout.under(tmp_path),
                ports=server.Ports(bolt=_free(), http=port, files=_free()),
                password=None,
                password_source="--password",
                queries=None,
                heap="512m",
                timeout_s=5,
            )
    assert not (tmp_path / "neo4j" / "neo4j.pid").exists()


def _free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_cli_refuses_a_short_password_in_one_line(tmp_path: Path) -> None:
    ports = ["--bolt-port", str(_free()), "--http-port", str(_free()), "--files-port", str(_free())]
    result = CliRunner().invoke(app, ["neo4j", "start", "--data-dir", str(tmp_path), "--password", "short", *ports])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert line == "error: --password: the Neo4j password needs 8 characters or more"


def test_status_of_a_data_dir_without_a_server_says_stopped(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["neo4j", "status", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout.startswith("stopped")
