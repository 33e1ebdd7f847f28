"""``graphrec neo4j start`` as an analyst runs it (issue 29, points 1 and 2), in real headless Chromium.

The CLI starts the local Neo4j detached in a temporary data directory and writes graphrec's settings
to ``.env`` (``--write-env``); ``graphrec cypher`` reads them to load a tiny graph. Then Browser
(``web/e2e/neo4j-browser.mjs``: Debian's chromium driven by playwright-core) must get the right Bolt
port from the discovery document, connect with the printed credentials, apply the printed ``:style``
(an Item drawn with its colour, size and title), play the printed ``:play`` guide and run the first
saved query from it, with a result that counts the graph loaded. A restart keeps the data and never
prints the password again; every stop leaves no JVM behind. Screenshot:
``test-artifacts/neo4j-browser/neo4j-browser.png`` (git-ignored)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live_api import REPO, free_port
from tests.web.browser import CHROMIUM, run_node

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "test-artifacts" / "neo4j-browser"
CLI_S = 900.0  # a first start resolves the jars with Maven; a start on 2 busy cores takes up to ~2 min
TITLE = "Heat (1995)"


@dataclass(frozen=True)
class LocalNeo4j:
    root: Path  # the working directory of every command (its .env)
    data_dir: Path
    bolt: int
    http: int
    files: int
    password: str
    first_output: str


def _env() -> dict[str, str]:
    """The test's environment less any graph settings, so only the .env of ``root`` says where the graph is."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHREC_GRAPH_", "GRAPHREC_NEO4J_"))}


def _graphrec(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "graphrec", *args],
        cwd=root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=CLI_S,
    )
    if check:
        assert proc.returncode == 0, (
            f"graphrec {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def _jvms_on(data_dir: Path) -> list[int]:
    """Pids of live processes (not zombies) whose command line names ``data_dir``: the local Neo4j's JVM."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
            state = (cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z" and any(str(data_dir).encode() in arg for arg in args):
            found.append(int(cmdline.parent.name))
    return found


def _kill_leftovers(data_dir: Path) -> None:
    for pid in _jvms_on(data_dir):
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def local_neo4j(tmp_path_factory: pytest.TempPathFactory, starts_processes: None) -> Iterator[LocalNeo4j]:
    root = tmp_path_factory.mktemp("neo4j-local")
    data_dir = root / "data"
    bolt, http, files = free_port(), free_port(), free_port()
    ports = ["--bolt-port", str(bolt), "--http-port", str(http), "--files-port", str(files)]
    try:
        started = _graphrec(root, "neo4j", "start", "--data-dir", str(data_dir), *ports, "--write-env")
        found = re.search(r"^  neo4j password: (\S+)$", started.stdout, re.M)
        assert found, started.stdout
        server = LocalNeo4j(root, data_dir, bolt, http, files, found.group(1), started.stdout)
        loaded = _graphrec(
            root,
            "cypher",
            "--write",
            "-c",
            "CREATE (u:User {id: 'u1'})-[:INTERACTED {weight: 2.0, count: 1, first_ts: timestamp(), "
            "last_ts: timestamp()}]->(i:Item {id: 'i1', title: $title})-[:IN_CATEGORY]->(:Category {name: 'Crime'})",
            "-P",
            f"title => '{TITLE}'",
        )
        assert "(0 rows; " in loaded.stdout and "relationships created: 2" in loaded.stdout
        yield server
    finally:
        _graphrec(root, "neo4j", "stop", "--data-dir", str(data_dir), check=False)
        left = _jvms_on(data_dir)
        _kill_leftovers(data_dir)
    assert left == [], f"a JVM outlived `graphrec neo4j stop`: {left}"


def test_start_prints_the_settings_and_what_to_paste_and_keeps_them(local_neo4j: LocalNeo4j) -> None:
    out = local_neo4j.first_output
    password_file = local_neo4j.data_dir.absolute() / "neo4j" / "password"
    assert f"export GRAPHREC_GRAPH_URI=bolt://localhost:{local_neo4j.bolt}" in out
    assert "export GRAPHREC_GRAPH_USER=neo4j" in out
    assert f'export GRAPHREC_GRAPH_PASSWORD="$(cat {password_file})"' in out
    assert f":style http://localhost:{local_neo4j.files}/style.grass" in out
    assert f":play http://localhost:{local_neo4j.files}/guide.html" in out
    assert out.count(local_neo4j.password) == 1  # shown once
    assert password_file.read_text().strip() == local_neo4j.password
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"
    env = (local_neo4j.root / ".env").read_text()
    assert f"GRAPHREC_GRAPH_URI=bolt://localhost:{local_neo4j.bolt}\n" in env
    assert f"GRAPHREC_GRAPH_PASSWORD={local_neo4j.password}\n" in env
    status = _graphrec(local_neo4j.root, "neo4j", "status", "--data-dir", str(local_neo4j.data_dir))
    assert status.stdout.startswith("running (pid ")
    assert f"http://localhost:{local_neo4j.http}/browser/" in status.stdout
    assert local_neo4j.password not in status.stdout


def test_browser_connects_styles_plays_the_guide_and_runs_a_saved_query(
    local_neo4j: LocalNeo4j, e2e_installed: Path
) -> None:
    code, output = run_node(
        [
            "neo4j-browser.mjs",
            "--browser",
            f"http://localhost:{local_neo4j.http}/browser/",
            "--password",
            local_neo4j.password,
            "--style",
            f"http://localhost:{local_neo4j.files}/style.grass",
            "--guide",
            f"http://localhost:{local_neo4j.files}/guide.html",
            "--out",
            str(ARTIFACTS),
            "--chromium",
            CHROMIUM,
        ],
        cwd=e2e_installed,
        timeout_s=300,
    )
    record = json.loads((ARTIFACTS / "neo4j-browser.json").read_text())
    assert code == 0, (record.get("error"), output[-3000:])
    # the discovery document named the Bolt port really bound, so the connect form holds it
    assert record["connect_form_bolt"].endswith(f"localhost:{local_neo4j.bolt}"), record["connect_form_bolt"]
    assert record["connected"] is True
    # the printed :style applied: an Item is drawn in its colour and size, captioned by its title
    assert record["item_node"]["fill"].upper() == "#FB95AF"
    assert float(record["item_node"]["r"]) == 22.5
    assert record["item_node"]["caption"].split() == TITLE.split()
    # the printed :play guide: generated from graph/queries, its first query runnable from its slide
    assert "graphrec: saved queries" in record["guide_first_slide"]
    first = sorted((REPO / "graph" / "queries").glob("*.cypher"))[0]
    number, _, rest = first.stem.partition("-")
    assert record["guide_slide_title"] == f"{number} · {rest.replace('-', ' ')}"
    assert record["guide_blocks"][0].startswith(":params {")
    assert "Successfully set your parameters" in record["params_frame"]
    if first.name == "01-graph-at-a-glance.cypher":  # today's first query counts nodes per label
        rows = re.findall(r'"(nodes|relationships)"\s+"(\w+)"\s+(\d+)', record["result"])
        assert ("nodes", "Item", "1") in rows and ("relationships", "INTERACTED", "1") in rows, record["result"]
    else:
        assert "ERROR" not in record["result"].upper() and "records" in record["result"], record["result"]


def test_a_restart_keeps_the_data_and_never_shows_the_password_again(local_neo4j: LocalNeo4j) -> None:
    root, data_dir = local_neo4j.root, local_neo4j.data_dir
    pid = int((data_dir / "neo4j" / "neo4j.pid").read_text())
    stopped = _graphrec(root, "neo4j", "stop", "--data-dir", str(data_dir))
    assert stopped.stdout.strip() == f"Neo4j stopped (pid {pid})"
    assert _jvms_on(data_dir) == []
    assert not (data_dir / "neo4j" / "neo4j.pid").exists()
    assert _graphrec(root, "neo4j", "status", "--data-dir", str(data_dir), check=False).returncode == 1
    ports = ["--bolt-port", str(local_neo4j.bolt), "--http-port", str(local_neo4j.http)]
    again = _graphrec(
        root, "neo4j", "start", "--data-dir", str(data_dir), *ports, "--files-port", str(local_neo4j.files)
    )
    assert local_neo4j.password not in again.stdout + again.stderr
    assert "password: in " in again.stdout
    titles = _graphrec(root, "cypher", "--format", "json", "-c", "MATCH (i:Item) RETURN i.title AS title")
    assert [json.loads(line) for line in titles.stdout.splitlines()] == [{"title": TITLE}]
