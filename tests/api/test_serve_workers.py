"""`graphrec serve --workers 2`: two worker processes share the embedded store; events written through
either are applied exactly once, duplicates are recognised across workers, shutdown is clean."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deadlines import START_S, WAIT_S, Threads, wait_until

from graphrec import clock
from graphrec.graph.embedded import EmbeddedServer
from graphrec.graph.falkordb_store import FalkorDBStore
from tests.live_api import free_port

REPO = Path(__file__).resolve().parents[2]
KEY = "workers-key"


@pytest.fixture
def data_dir(tmp_path: Path, starts_processes: None) -> Iterator[Path]:
    yield tmp_path
    EmbeddedServer(tmp_path).stop()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _batch(n: int, now: int) -> dict[str, object]:
    return {
        "events": [
            {"event_id": f"e{n}-{k}", "user_id": f"u{n % 7}", "item_id": f"i{k}", "type": "click", "timestamp": now}
            for k in range(20)
        ]
    }


def test_two_workers_ingest_exactly_once(data_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"  # the supervisor's and workers' log: why a worker is missing, if one is
    env = {
        **os.environ,
        "GRAPHREC_GRAPH_URI": f"embedded:{data_dir}",
        "GRAPHREC_FALKORDB_GRAPH": "w",
        "GRAPHREC_API_KEYS": KEY,
        "GRAPHREC_EVENTS_MAX_PER_MINUTE": "1000000",
        "GRAPHREC_RATE_LIMIT_PER_S": "100000",
        "GRAPHREC_RATE_LIMIT_BURST": "100000",
    }
    graphrec = str(Path(sys.executable).with_name("graphrec"))
    proc = subprocess.Popen(
        [graphrec, "serve", "--port", str(port), "--workers", "2", "--log-level", "warning"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:

        def ready() -> bool:
            assert proc.poll() is None, f"serve exited with {proc.returncode}"
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, what="the workers to answer /readyz", timeout_s=START_S, interval_s=0.2)
        workers = [
            c
            for c in _children(proc.pid)
            if "spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")
        ]
        # both are started at once, so one missing here died at startup (the supervisor restarts it): the log says why
        assert len(workers) == 2, log.read_bytes()[-3000:].decode(errors="replace")

        now = clock.now_ms()
        answers: list[dict[str, int]] = []

        def client(first: int) -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": KEY}, timeout=WAIT_S) as c:
                for n in range(first, 40, 4):
                    for _ in range(2):  # every batch twice: the retry may land on the other worker
                        r = c.post("/v1/events", json=_batch(n, now))
                        assert r.status_code == 202, r.text
                        answers.append(r.json())

        threads = Threads()  # a refused batch (the assert in client) fails the test at join()
        for k in range(4):
            threads.start(client, k, name=f"client-{k}")
        threads.join(timeout_s=4 * WAIT_S)  # 20 batches per client, each far below WAIT_S
        assert len(answers) == 80
        assert sum(a["applied"] for a in answers) == 40 * 20
        assert sum(a["duplicates"] for a in answers) == 40 * 20
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=WAIT_S) == 0
    store = FalkorDBStore.embedded(data_dir, graph="w")
    try:
        edges = [e for page in store.iter_interaction_aggregates() for e in page]
        # 7 users x 20 items; each (user, item) edge got one click per batch of that user
        assert len(edges) == 7 * 20
        assert sum(e.count for e in edges) == 40 * 20
    finally:
        store.close()


# Why slow, and why its deadline is four process starts: every worker start imports the whole app (torch,
# torch_geometric: ~5 s of CPU on a quiet core) before its lifespan fails on the unreachable store, and the
# supervisor gives up after three failed starts in a row: with two workers that is four starts (two rounds
# on two cores) plus its one-second restart pauses, ~24 s on a quiet 2-core box and more than the former
# 120 s limit under a loaded `make test`. The deadline only has to catch a supervisor that never gives up.
@pytest.mark.slow
@pytest.mark.integration
def test_workers_that_cannot_start_stop_the_server_with_an_error(tmp_path: Path) -> None:
    env = {**os.environ, "GRAPHREC_GRAPH_URI": "falkor://127.0.0.1:1", "GRAPHREC_DATA_DIR": str(tmp_path)}
    graphrec = str(Path(sys.executable).with_name("graphrec"))
    deadline_s = 4 * START_S
    try:
        proc = subprocess.run(
            [graphrec, "serve", "--port", str(free_port()), "--workers", "2", "--log-level", "error"],
            env=env,
            capture_output=True,
            text=True,
            timeout=deadline_s,
        )
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        pytest.fail(f"`graphrec serve --workers 2` still ran after {deadline_s:g} s; stderr ends:\n{err[-2000:]}")
    assert proc.returncode == 1
    assert "keep exiting at startup" in proc.stderr
