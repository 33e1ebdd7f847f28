"""SIGKILL the API (and its embedded store) during a sustained ingest: no acknowledged event is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deadlines import WAIT_S, Threads, wait_until

from graphrec import clock
from graphrec.graph.embedded import EmbeddedServer
from graphrec.graph.falkordb_store import FalkorDBStore
from tests.live_api import free_port, start_api

STARTED_MS = clock.now_ms()
KEY = "durability-key"
BATCH = 50


def _start_api(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    return start_api(
        {
            "GRAPHREC_GRAPH_URI": f"embedded:{data_dir}",
            "GRAPHREC_FALKORDB_GRAPH": "dur",
            "GRAPHREC_API_KEYS": KEY,
            "GRAPHREC_RATE_LIMIT_PER_S": "100000",
            "GRAPHREC_RATE_LIMIT_BURST": "100000",
            "GRAPHREC_EVENTS_MAX_PER_MINUTE": "1000000",
        },
        port,
    )


def _batch(n: int) -> dict[str, object]:
    now = STARTED_MS  # a retried batch must be the same content, or it is an idempotency conflict (409)
    return {
        "events": [
            {
                "event_id": f"b{n}-{k}",
                "user_id": f"u{n}",
                "item_id": f"i{k}",
                "type": "click",
                "timestamp": now,
            }
            for k in range(BATCH)
        ]
    }


@pytest.fixture
def data_dir(tmp_path: Path, starts_processes: None) -> Iterator[Path]:
    yield tmp_path
    EmbeddedServer(tmp_path).stop()  # whatever happened, no server outlives the test


def test_sigkill_during_ingest_loses_no_acknowledged_event(data_dir: Path) -> None:
    port = free_port()
    api = _start_api(data_dir, port)
    acked: list[int] = []
    stop = threading.Event()

    def load(first: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": KEY}, timeout=WAIT_S) as c:
            n = first
            while not stop.is_set():
                try:
                    r = c.post("/v1/events", json=_batch(n))
                except httpx.HTTPError:
                    return  # the server died mid-request: that batch was never acknowledged
                if r.status_code == 202 and r.json()["applied"] == BATCH:
                    acked.append(n)
                n += 2

    threads = Threads()
    for first in (0, 1):  # two concurrent clients
        threads.start(load, first, name=f"client-{first}")
    try:
        wait_until(lambda: len(acked) >= 20, what="20 batches acknowledged before the crash", interval_s=0.02)
        # Kill the API mid-stream, then the embedded store it started: a whole-machine crash.
        api.send_signal(signal.SIGKILL)
        api.wait()
        server_pid = json.loads((data_dir / "server.json").read_text())["pid"]
        os.kill(server_pid, signal.SIGKILL)
    finally:
        stop.set()
        threads.join()
    assert len(acked) >= 20

    api = _start_api(data_dir, port)  # starts a fresh store server, which replays its AOF
    try:
        store = FalkorDBStore.embedded(data_dir, graph="dur")
        try:
            got = {(u, i) for p in store.iter_interactions() for u, i in zip(p.user_ids, p.item_ids, strict=True)}
        finally:
            store.close()
        missing = [(f"u{n}", f"i{k}") for n in acked for k in range(BATCH) if (f"u{n}", f"i{k}") not in got]
        assert missing == []
        # And their event ids survived: re-sending an acknowledged batch is all duplicates.
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": KEY}, timeout=WAIT_S) as c:
            r = c.post("/v1/events", json=_batch(max(acked)))
        assert r.status_code == 202 and r.json()["duplicates"] == BATCH
    finally:
        api.terminate()
        api.wait(timeout=WAIT_S)
