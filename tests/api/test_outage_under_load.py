"""Acceptance: kill -9 the embedded store while clients keep writing and reading through a real API.

No response is a 500, writes during the outage get 503 with Retry-After on a connection that stays
open, the API restarts the store by itself, and every acknowledged event is in the store exactly once
(clients retry their refused batches, as the 503 tells them to).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from deadlines import Threads, wait_until

from graphrec import clock
from graphrec.graph.embedded import EmbeddedServer
from graphrec.graph.falkordb_store import FalkorDBStore
from tests.live_api import free_port, start_api, stop_api

STARTED_MS = clock.now_ms()
KEY = "outage-key"
BATCH = 20


def batch(n: int) -> dict[str, object]:
    now = STARTED_MS  # a retried batch must be the same content, or it is an idempotency conflict (409)
    return {
        "events": [
            {"event_id": f"b{n}-{k}", "user_id": f"u{n}", "item_id": f"i{k}", "type": "click", "timestamp": now}
            for k in range(BATCH)
        ]
    }


@pytest.mark.integration
@pytest.mark.slow
def test_killing_the_store_under_load_gives_no_500_recovers_alone_and_keeps_every_ack(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    port = free_port()
    api = start_api(
        {
            "GRAPHREC_GRAPH_URI": f"embedded:{store_dir}",
            "GRAPHREC_FALKORDB_GRAPH": "load",
            "GRAPHREC_DATA_DIR": str(tmp_path),
            "GRAPHREC_API_KEYS": KEY,
            "GRAPHREC_STORE_CHECK_S": "1.5",  # an outage long enough to look at
            "GRAPHREC_RATE_LIMIT_PER_S": "100000",
            "GRAPHREC_RATE_LIMIT_BURST": "100000",
            "GRAPHREC_EVENTS_MAX_PER_MINUTE": "1000000",
        },
        port,
        log=tmp_path / "api.log",
    )
    statuses: Counter[int] = Counter()
    acked: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    base = f"http://127.0.0.1:{port}"

    def writer(first: int) -> None:
        with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=30) as c:
            n = first
            while not stop.is_set():
                r = c.post("/v1/events", json=batch(n))
                with lock:
                    statuses[r.status_code] += 1
                if r.status_code == 202:
                    assert r.json()["applied"] + r.json()["duplicates"] == BATCH
                    with lock:
                        acked.append(n)
                    n += 2
                else:  # 503: retry the same batch (same event ids) after a moment
                    time.sleep(0.05)

    def reader() -> None:
        with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=30) as c:
            while not stop.is_set():
                r = c.get("/v1/users/u0/recommendations", params={"k": 5})
                with lock:
                    statuses[r.status_code] += 1

    threads = Threads()  # an assertion failing in a client thread fails the test at join()
    for k in (0, 1):
        threads.start(writer, k, name=f"writer-{k}")
    threads.start(reader, name="reader")
    try:
        wait_until(
            lambda: len(acked) >= 15,
            what="15 batches acknowledged before the kill",
            interval_s=0.01,
            detail=lambda: dict(statuses),
        )
        before = len(acked)
        server_pid = json.loads((store_dir / "server.json").read_text())["pid"]
        os.kill(server_pid, signal.SIGKILL)

        # During the outage: a 503 with Retry-After, and the connection stays open for the next request.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request(
            "POST",
            "/v1/events",
            body=json.dumps(batch(10_001)),
            headers={"X-API-Key": KEY, "Content-Type": "application/json"},
        )
        r = conn.getresponse()
        body = r.read()
        assert r.status == 503, body
        assert int(r.getheader("Retry-After") or 0) >= 1
        sock = conn.sock
        assert sock is not None
        conn.request("GET", "/readyz")
        ready = conn.getresponse()
        ready.read()
        assert conn.sock is sock, "the 503 closed the keep-alive connection"
        assert ready.status == 503
        conn.close()

        wait_until(
            lambda: len(acked) >= before + 15,
            what="writes to recover: 15 more batches acknowledged",
            detail=lambda: dict(statuses),
        )
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200
    finally:
        stop.set()
        try:
            threads.join()
        finally:
            stop_api(api)
    assert statuses[500] == 0 and not [s for s in statuses if s >= 500 and s != 503], statuses
    assert statuses[503] >= 1 and statuses[202] == len(acked)

    store = FalkorDBStore.embedded(store_dir, graph="load")
    try:
        for n in acked:
            edges = store.user_interactions(user_id=f"u{n}", limit=BATCH + 1)
            assert sorted(e.item_id for e in edges) == sorted(f"i{k}" for k in range(BATCH)), n
            assert all(e.count == 1 for e in edges), (n, [e.count for e in edges])  # retried, applied once
    finally:
        store.close()
        EmbeddedServer(store_dir).stop()
