"""A Neo4j that dies under a running API (its own throwaway server, killed with SIGKILL): writes and
user routes answer 503 with Retry-After (never 500), recommendations degrade, /readyz says 503.

Neo4j is not graphrec's to restart; the driver reconnects once a server answers at the URI again.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from deadlines import wait_until
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.main import create_app
from graphrec import clock
from graphrec.config import Settings
from graphrec.graph.embedded import _pid_alive
from tests.neo4j_harness import USER, Neo4jHarness

KEY = "neo4j-outage-key"


@pytest.mark.integration
@pytest.mark.slow
def test_a_killed_neo4j_gives_503_with_retry_after_and_degraded_reads(tmp_path: Path) -> None:
    with Neo4jHarness() as harness:
        s = Settings(
            graph_uri=harness.uri,
            graph_user=USER,
            graph_password=SecretStr(harness.password),
            data_dir=tmp_path,
            api_keys=KEY,
            store_check_s=0.2,
            store_connect_timeout_s=1.0,
        )
        now = clock.now_ms()
        events = {"events": [{"event_id": "e1", "user_id": "u1", "item_id": "i1", "type": "click", "timestamp": now}]}
        with TestClient(create_app(s), headers={"X-API-Key": KEY}) as c:
            assert c.post("/v1/events", json=events).status_code == 202
            assert c.get("/readyz").status_code == 200
            assert harness.pid is not None
            jvm = harness.pid
            os.kill(jvm, signal.SIGKILL)
            wait_until(lambda: not _pid_alive(jvm), what=f"the killed Neo4j (pid {jvm}) to be gone")
            events["events"][0]["event_id"] = "e2"
            r = c.post("/v1/events", json=events)
            assert r.status_code == 503, r.text
            assert int(r.headers["Retry-After"]) >= 1
            assert c.get("/v1/users/u1/interactions").status_code == 503
            rec = c.get("/v1/users/u1/recommendations")
            assert rec.status_code in (200, 503) and rec.status_code != 500
            if rec.status_code == 200:
                assert rec.json()["degraded"] is True
            wait_until(lambda: c.get("/readyz").status_code == 503, what="/readyz to say the store is down")
            assert 'status="500"' not in c.get("/metrics").text
