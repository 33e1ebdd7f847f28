"""``graphrec neo4j start`` as an analyst runs it (issue 29, points 1 and 2), in real headless Chromium.

The CLI starts the local Neo4j detached in a temporary data directory and writes graphrec's settings
to ``.env`` (``--write-env``); every later ``graphrec`` command reads them: the analyst's walk of the
issue's acceptance, on a generated data set whose ids are the ones the saved queries document (``u1``,
``i1``, ``'Comedy'``...): ``generate``, ``import``, ``train`` (a few epochs), ``publish``, ``segment``.
Then Browser (``web/e2e/neo4j-browser.mjs``: Debian's chromium driven by playwright-core) must get the
right Bolt port from the discovery document, connect with the printed credentials, apply the printed
``:style`` (an Item drawn with its colour, size and title), play the printed ``:play`` guide and run
every saved query from its slide with the slide's ``:params`` block: each returns rows, none an error
(the GDS ones too). ``graphrec cypher -f`` runs every saved query with its documented parameters on
the same graph. A restart keeps the data and never prints the password again; every stop leaves no
JVM behind. One Neo4j start for the module. Screenshot: ``test-artifacts/neo4j-browser/neo4j-browser.png``
(git-ignored)."""

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
from tests.neo4j_harness import JVM_OPTIONS
from tests.web.browser import CHROMIUM, run_node

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "test-artifacts" / "neo4j-browser"
CLI_S = 900.0  # a first start resolves the jars with Maven; a start on 2 busy cores takes up to ~2 min
QUERIES = sorted((REPO / "graph" / "queries").glob("*.cypher"))  # the guide's slides (not the falkordb/ forms)
EVENTS = 20_000  # generated: u1, i1, i2 and 'Comedy' (the documented parameters) all take part
# a few epochs of the synthetic config: the saved queries need embeddings, not a good model
TRAIN_CONFIG = """name = "browser-walk"
[train]
seed = 0
epochs = 3
eval_every = 3
[train.encoder]
dim = 16
layers = 2
"""


@dataclass(frozen=True)
class LocalNeo4j:
    root: Path  # the working directory of every command (its .env)
    data_dir: Path
    bolt: int
    http: int
    files: int
    password: str
    first_output: str
    items: int  # items in the graph after the import


def _env() -> dict[str, str]:
    """The test's environment less any graph settings and data locations, so only the .env of ``root``
    says where the graph is and the data directory (event log, models) is ``root``'s default one. The JVM
    (and only it: the variable is the JVM's own) runs with the client compiler only, as the test Neo4j
    (``tests/neo4j_harness`` JVM_OPTIONS): the same program, started in 12 s of CPU instead of 20."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GRAPHREC_GRAPH_", "GRAPHREC_NEO4J_", "GRAPHREC_DATA_DIR", "GRAPHREC_MODEL_DIR"))
        and k != "GRAPHREC_EVENT_LOG"
    }
    return {**env, "JAVA_TOOL_OPTIONS": " ".join(JVM_OPTIONS)}


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


def _add_the_documented_why(events: Path) -> None:
    """Query 03 documents "why was i2 recommended to u1"; in the generated set i2 is no graph candidate of
    u1. Three purchases after the last generated event make it one, by the traversal's rules: u1's newest
    like is i1, and another shopper bought both i1 and i2."""
    last = max(int(line.split(",")[3]) for line in events.read_text().splitlines()[1:])
    rows = [("u1", "i1"), ("u-walk", "i1"), ("u-walk", "i2")]
    with events.open("a", encoding="utf-8") as out:
        for k, (user, item) in enumerate(rows, start=1):
            out.write(f'"{user}","{item}","purchase",{last + 1000 * k},,"s-walk-{user}","desktop"\n')


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
        events = root / "events.csv"
        _graphrec(root, "generate", "-n", str(EVENTS), "-o", str(events), "--seed", "0")
        _add_the_documented_why(events)
        imported = _graphrec(
            root,
            "import",
            "--format",
            "events",
            "--items",
            str(events.with_suffix(".items.csv")),
            str(events),
            "--json",
        )
        assert json.loads(imported.stdout)["interactions"] > 0, imported.stdout
        (root / "walk.toml").write_text(TRAIN_CONFIG, encoding="utf-8")
        _graphrec(root, "train", "--config", str(root / "walk.toml"), "--version", "v1", "-q")
        _graphrec(root, "publish", "v1")
        _graphrec(root, "segment", "--json")
        counted = _graphrec(root, "cypher", "--format", "json", "-c", "MATCH (i:Item) RETURN count(i) AS n")
        items = json.loads(counted.stdout.splitlines()[0])["n"]
        server = LocalNeo4j(root, data_dir, bolt, http, files, found.group(1), started.stdout, items)
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


def test_browser_connects_styles_plays_the_guide_and_runs_every_saved_query(
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
        timeout_s=900,
    )
    record = json.loads((ARTIFACTS / "neo4j-browser.json").read_text())
    assert code == 0, (record.get("error"), output[-3000:])
    # the discovery document named the Bolt port really bound, so the connect form holds it
    assert record["connect_form_bolt"].endswith(f"localhost:{local_neo4j.bolt}"), record["connect_form_bolt"]
    assert record["connected"] is True
    # the printed :style applied: an Item is drawn in its colour and size, captioned by its title
    first_item = _graphrec(
        local_neo4j.root, "cypher", "--format", "json", "-c", "MATCH (i:Item) RETURN i.title AS t ORDER BY i.id LIMIT 1"
    )
    title = json.loads(first_item.stdout.splitlines()[0])["t"]
    assert record["item_node"]["fill"].upper() == "#FB95AF"
    assert float(record["item_node"]["r"]) == 22.5
    # Browser wraps a caption over lines and cuts one too long for the circle with an ellipsis
    caption = record["item_node"]["caption"]
    shown = "".join(caption.replace("\u2026", "").split())
    assert shown and "".join(title.split()).startswith(shown), (caption, title)
    assert "\u2026" in caption or caption.split() == title.split(), (caption, title)
    # the printed :play guide: generated from graph/queries, one slide per saved query, each runnable
    assert "graphrec: saved queries" in record["guide_first_slide"]
    slides = record["queries"]
    assert [q["title"] for q in slides] == [_slide_title(path) for path in QUERIES]
    for path, q in zip(QUERIES, slides, strict=True):
        assert q.get("error") is None, (path.name, q.get("error"), q.get("params_frame"))
        # the parameters are set by Neo4j evaluating the file's values (integers stay integers)
        assert q["blocks"][0].startswith(":param [{"), (path.name, q["blocks"])
        assert "Successfully set your param" in q["params_frame"], (path.name, q["params_frame"])
        assert q["records"] and q["records"] > 0, (path.name, q["result"][:1500])
    # query 01 counts what the import wrote: every item
    glance = slides[0]["result"]
    assert re.search(rf'"nodes"\s+"Item"\s+{local_neo4j.items}\b', glance), glance


def _slide_title(path: Path) -> str:
    number, _, rest = path.stem.partition("-")
    return f"{number} · {rest.replace('-', ' ')}"


@pytest.mark.parametrize("query", QUERIES, ids=lambda p: p.stem)
def test_every_saved_query_runs_in_graphrec_cypher_with_its_documented_parameters(
    local_neo4j: LocalNeo4j, query: Path
) -> None:
    # `-f` takes the file's own `:param` lines: the documented values, nothing added
    ran = _graphrec(local_neo4j.root, "cypher", "-f", str(query), "--format", "json", check=False)
    assert ran.returncode == 0, (ran.stdout[-1500:], ran.stderr[-1500:])
    rows = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    assert rows, (ran.stdout[-1500:], ran.stderr[-1500:])


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
    items = _graphrec(root, "cypher", "--format", "json", "-c", "MATCH (i:Item) RETURN count(i) AS n")
    assert [json.loads(line) for line in items.stdout.splitlines()] == [{"n": local_neo4j.items}]
