"""The analyst's walk on a fresh clone, timed: a local Neo4j, a data set, a model, every saved query.

    python bench/analyst_walk.py --dataset movielens:../shared/datasets/ml-100k [--workdir DIR]
                                 [--epochs N] [--user ID] [--item ID] [--category NAME] [--keep]
    python bench/analyst_walk.py --generate 20000        # a synthetic set instead (its ids are the
                                                         # ones the saved queries document: u1, i1, ...)

Each step is the ``graphrec`` command an analyst types, run in ``--workdir`` (a temporary folder unless
given), whose ``.env`` ``graphrec neo4j start --write-env`` writes: ``neo4j start`` (free ports, its
data under the workdir), ``import`` (or ``generate`` then ``import``), ``train`` (the data set's
config from ``training/configs/`` with ``--epochs``), ``publish``, ``segment``, then every saved query
of ``graph/queries/*.cypher`` (not the FalkorDB forms) through ``graphrec cypher -f FILE --format json``
with its documented ``:param`` values, and ``neo4j stop`` (unless ``--keep``). ``--user``, ``--item``
and ``--category`` replace the documented ``user``/``item``/``category`` where a data set has other ids
(MovieLens ids are numbers: ``--user 1 --item 50``); with ``--user``, query 03 (why recommended) asks
about ``--why-item``, by default the user's first graph candidate as the API's traversal finds it
(``co_interaction_candidates_for_user``, decayed from the user's newest edge).
Prints one JSON object: each step's seconds and exit code, each query's rows; exits 1 when a step
failed or a query returned no row or an error.

Measured (ML-100K, this 2-core machine, load 2.6-4, cached Maven jars; the shared venv's pure-Python
Bolt driver): start 20.7 s, import 20.4 s, train (20 epochs) 57.1 s, publish 6.9 s, segment 2.9 s, the
12 queries 18.9 s (each a ``graphrec cypher`` process), stop 5.7 s; 12 of 12 returned rows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
QUERIES = sorted((REPO / "graph" / "queries").glob("*.cypher"))
_PARAM = re.compile(r"^:param\s+([A-Za-z_]\w*)\s*=>\s*(.+?);?\s*$", re.M)
STEP_TIMEOUT_S = 3600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def documented_params(path: Path) -> dict[str, str]:
    """A saved query's ``:param name => value`` lines, values as Cypher literals."""
    return dict(_PARAM.findall(path.read_text(encoding="utf-8")))


class Walk:
    """The steps run so far, with their timings."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.steps: list[dict[str, Any]] = []
        # only the workdir's .env says where the graph is; the data directory (event log, models) is its own
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHREC_GRAPH_", "GRAPHREC_NEO4J_"))}
        self.env["GRAPHREC_DATA_DIR"] = str(workdir / "data")
        self.env.pop("GRAPHREC_MODEL_DIR", None)
        self.env.pop("GRAPHREC_EVENT_LOG", None)

    def graphrec(self, name: str, *args: str, record: bool = True) -> subprocess.CompletedProcess[str]:
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "graphrec", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
        )
        seconds = round(time.perf_counter() - started, 2)
        if record:
            step: dict[str, Any] = {"step": name, "command": "graphrec " + " ".join(args), "seconds": seconds}
            step["exit"] = proc.returncode
            if proc.returncode:
                step["output"] = (proc.stdout + proc.stderr)[-2000:]
            self.steps.append(step)
        return proc

    def failed(self) -> bool:
        return any(s["exit"] for s in self.steps)


def _dataset_args(walk: Walk, args: argparse.Namespace) -> tuple[list[str], str]:
    """The import command's arguments and the training config for the chosen data set."""
    if args.generate:
        events = walk.workdir / "events.csv"
        walk.graphrec("generate", "generate", "-n", str(args.generate), "-o", str(events), "--seed", "0")
        return ["import", "--format", "events", "--items", str(events.with_suffix(".items.csv")), str(events)], (
            "synthetic"
        )
    fmt, _, where = args.dataset.partition(":")
    return ["import", "--format", fmt, str(Path(where).resolve())], "ml100k" if fmt.startswith("movielens") else (
        "synthetic"
    )


def _train_config(walk: Walk, name: str, epochs: int) -> Path:
    """The data set's config from training/configs/, with ``epochs`` (and the patience that fits it)."""
    text = (REPO / "training" / "configs" / f"{name}.toml").read_text(encoding="utf-8")
    text = re.sub(r"^epochs = \d+", f"epochs = {epochs}", text, flags=re.M)
    path = walk.workdir / f"{name}-walk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _why_item(walk: Walk, user: str) -> str | None:
    """The user's first graph candidate, read as the API reads it (the store's candidate traversal,
    decayed from the user's newest edge)."""
    from graphrec.config import Settings  # noqa: PLC0415 - the walk's own .env, once it exists
    from graphrec.graph.factory import open_store  # noqa: PLC0415

    settings = Settings(_env_file=walk.workdir / ".env")  # type: ignore[call-arg]
    with open_store(settings) as store:
        history = store.user_history(user_id=user, limit=1)
        if not history.item_ids:
            return None
        found = store.co_interaction_candidates_for_user(
            user_id=user, limit=1, now_ms=int(history.last_ts[0]), half_life_days=settings.half_life_days
        )
    return found[0].item_id if found else None


def run_queries(walk: Walk, overrides: dict[str, str]) -> list[dict[str, Any]]:
    """Every saved query through ``graphrec cypher -f``, its documented parameters with ``overrides``."""
    results = []
    for path in QUERIES:
        params = documented_params(path)
        given = [f"{k} => {v}" for k, v in overrides.items() if k in params]
        if path.name.startswith("03-") and "why_item" in overrides:
            given = [g for g in given if not g.startswith("item =>")] + [f"item => {overrides['why_item']}"]
        args = ["cypher", "-f", str(path), "--format", "json", "--width", "0"]
        for g in given:
            args += ["-P", g]
        proc = walk.graphrec(f"query {path.stem}", *args, record=False)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        results.append(
            {
                "query": path.name,
                "params": given,
                "exit": proc.returncode,
                "rows": len(lines),
                "error": (proc.stderr.strip().splitlines() or [""])[-1] if proc.returncode else None,
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="FORMAT:PATH, e.g. movielens:../shared/datasets/ml-100k")
    source.add_argument("--generate", type=int, help="a synthetic set of this many events instead")
    parser.add_argument("--workdir", type=Path, default=None, help="where .env and the data go (default: a temp dir)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (the config's own: 100-200)")
    parser.add_argument("--user", default=None, help="replaces the documented user (e.g. 1 on MovieLens)")
    parser.add_argument("--item", default=None, help="replaces the documented item (e.g. 50 on MovieLens)")
    parser.add_argument("--category", default=None, help="replaces the documented category")
    parser.add_argument("--why-item", default=None, help="query 03's item (default: the user's first candidate)")
    parser.add_argument("--keep", action="store_true", help="leave Neo4j running (graphrec neo4j stop later)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="graphrec-walk-"))
    workdir.mkdir(parents=True, exist_ok=True)
    walk = Walk(workdir)
    data_dir = workdir / "data"
    ports = ["--bolt-port", str(free_port()), "--http-port", str(free_port()), "--files-port", str(free_port())]
    report: dict[str, Any] = {"benchmark": "analyst_walk", "workdir": str(workdir)}
    try:
        walk.graphrec("neo4j start", "neo4j", "start", "--data-dir", str(data_dir), *ports, "--write-env")
        if not walk.failed():
            import_args, config = _dataset_args(walk, args)
            walk.graphrec("import", *import_args, "--json")
            walk.graphrec("train", "train", "--config", str(_train_config(walk, config, args.epochs)), "-q")
            walk.graphrec("publish", "publish")
            walk.graphrec("segment", "segment", "--json")
        if not walk.failed():
            overrides = {
                k: f"'{v}'" for k, v in (("user", args.user), ("item", args.item), ("category", args.category)) if v
            }
            user = args.user or documented_params(QUERIES[1]).get("user", "'u1'").strip("'")
            why = args.why_item or (_why_item(walk, user) if args.user else None)
            if why:
                overrides["why_item"] = f"'{why}'"
            started = time.perf_counter()
            report["queries"] = run_queries(walk, overrides)
            report["queries_s"] = round(time.perf_counter() - started, 2)
    finally:
        if not args.keep:
            walk.graphrec("neo4j stop", "neo4j", "stop", "--data-dir", str(data_dir))
        report["steps"] = walk.steps
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    queries = report.get("queries", [])
    report["queries_with_rows"] = sum(1 for q in queries if q["exit"] == 0 and q["rows"] > 0)
    report["queries_total"] = len(QUERIES)
    print(json.dumps(report, indent=2))
    ok = not walk.failed() and report["queries_with_rows"] == len(QUERIES)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
