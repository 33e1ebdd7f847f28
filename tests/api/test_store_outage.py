"""The embedded store dies under a running API: 503 with Retry-After (never 500, never 404),
degraded reads without touching the store, /readyz 503, and a restart with no operator and no zombie.

Each test owns its store directory (the server is killed), and stops whatever runs there afterwards.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from crash import kill_embedded_server
from deadlines import wait_until
from fastapi.testclient import TestClient

from api.container import services_of
from api.main import create_app
from graphrec import clock
from graphrec.config import Settings
from graphrec.graph.embedded import EmbeddedServer
from graphrec.graph.records import InteractionDelta, ItemRecord

KEY = "outage-key"
NOW = clock.now_ms()


def ev(n: int, user: str = "u1", item: str = "i1") -> dict[str, object]:
    return {"event_id": f"e{n}", "user_id": user, "item_id": item, "type": "click", "timestamp": NOW}


@pytest.fixture
def store_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "store"
    EmbeddedServer(tmp_path / "store").stop()


@pytest.fixture
def client(store_dir: Path, tmp_path: Path, starts_processes: None) -> Iterator[TestClient]:
    s = Settings(
        graph_uri=f"embedded:{store_dir}",
        data_dir=tmp_path,
        api_keys=KEY,
        store_check_s=0.1,
        rate_limit_per_s=10_000,
        rate_limit_burst=10_000,
    )
    with TestClient(create_app(s), headers={"X-API-Key": KEY}) as c:
        services = services_of(c.app)
        store = services.store
        store.upsert_items([ItemRecord("i1", title="One"), ItemRecord("i2", title="Two")])
        store.upsert_interactions(
            [
                InteractionDelta("u1", "i1", 1.0, 1, NOW, NOW),
                InteractionDelta("u2", "i1", 1.0, 1, NOW, NOW),
                InteractionDelta("u2", "i2", 1.0, 1, NOW, NOW),
            ]
        )
        services.catalog.refresh(store)
        services.cograph.refresh(store)  # the in-memory traversal index, as a running API has it
        yield c


def wait_ready(c: TestClient) -> None:
    wait_until(
        lambda: c.get("/readyz").status_code == 200,
        what="the API to be ready again",
        detail=lambda: c.get("/readyz").json(),
    )


def hold_watchdog(c: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the store down for the assertions: the watchdog's recover() only pings."""
    store = services_of(c.app).store
    monkeypatch.setattr(store, "recover", store.ping)


def count_history_reads(c: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The users whose history the API reads from here on (the real reader, counted)."""
    reads: list[str] = []
    history = services_of(c.app).history
    real = history.user_history

    async def counted(*, user_id: str, limit: int = 200):  # type: ignore[no-untyped-def]
        reads.append(user_id)
        return await real(user_id=user_id, limit=limit)

    monkeypatch.setattr(history, "user_history", counted)
    return reads


def test_a_dead_store_answers_503_with_retry_after_not_500_or_404(
    client: TestClient, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_watchdog(client, monkeypatch)
    kill_embedded_server(store_dir)
    r = client.post("/v1/events", json={"events": [ev(1)]})
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) >= 1 and "unavailable" in r.json()["detail"]
    # Known down now: the next write is refused at once, the user routes too.
    assert client.post("/v1/events", json={"events": [ev(2)]}).status_code == 503
    assert client.get("/v1/users/u1/interactions").status_code == 503
    assert client.put("/v1/users/u1/consent", json={"consent": False}).status_code == 503
    assert client.delete("/v1/users/u1").status_code == 503
    # An item neither the model nor the catalogue knows cannot be called unknown: 503, not 404.
    r = client.get("/v1/items/nobody-knows/similar")
    assert r.status_code == 503 and "Retry-After" in r.headers
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["store"] is False
    assert client.get("/healthz").status_code == 200  # alive: restarting the API would not help
    metrics = client.get("/metrics").text
    assert 'graphrec_shed_requests_total{reason="store_unavailable"}' in metrics
    assert 'status="500"' not in metrics


def test_degraded_recommendations_do_not_touch_a_store_known_to_be_down(
    client: TestClient, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = count_history_reads(client, monkeypatch)
    hold_watchdog(client, monkeypatch)
    kill_embedded_server(store_dir)
    first = client.get("/v1/users/u1/recommendations")
    assert first.status_code == 200 and first.json()["degraded"] is True
    assert reads == ["u1"]  # this one tried, failed at once (no client retry backoff) and opened the breaker
    for _ in range(5):
        r = client.get("/v1/users/u1/recommendations")
        assert r.status_code == 200 and r.json()["degraded"] is True and r.json()["count"] >= 1
    assert reads == ["u1"]  # ... and these never waited on the store
    sim = client.get("/v1/items/i1/similar")  # from the in-memory index, without the store
    assert sim.status_code == 200 and [d["item_id"] for d in sim.json()["data"]] == ["i2"]


def test_the_watchdog_restarts_a_killed_embedded_server_and_reaps_it(client: TestClient, store_dir: Path) -> None:
    assert client.post("/v1/events", json={"events": [ev(1)]}).status_code == 202
    old = kill_embedded_server(store_dir)
    client.post("/v1/events", json={"events": [ev(2)]})  # 503 (or 202 if the watchdog was faster)
    wait_ready(client)
    info = EmbeddedServer(store_dir).info()
    assert info is not None and info.pid != old
    assert not Path(f"/proc/{old}").exists(), "the killed server was left as a zombie"
    r = client.post("/v1/events", json={"events": [ev(3), ev(1)]})
    assert r.status_code == 202, r.text
    assert r.json()["duplicates"] == 1  # the acknowledged event survived the crash (append-only file)
    edges = {e["item_id"]: e["count"] for e in client.get("/v1/users/u1/interactions").json()["data"]}
    assert edges["i1"] >= 3  # seeded once, e1 and e3 (e2 only if it was acknowledged)
    assert (
        client.get("/v1/users/u1/recommendations").json()["degraded"] is False
        or services_of(client.app).models.state is None
    )


@pytest.mark.integration
def test_startup_survives_failing_refreshes_and_retries_them_with_backoff(
    store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store hiccup while the catalogue and the co-interaction index are first built: the API still
    starts and answers; the refreshes are retried in the background after a backoff, not on every tick."""
    from graphrec.recommend.popular import CatalogCache
    from graphrec.serving.cograph_holder import CoGraphHolder

    attempts: dict[str, list[float]] = {"CoGraphHolder": [], "CatalogCache": []}

    def broken(self: object, store: object) -> None:
        attempts[type(self).__name__].append(time.monotonic())
        raise RuntimeError("store hiccup")

    monkeypatch.setattr(CoGraphHolder, "refresh", broken)
    monkeypatch.setattr(CatalogCache, "refresh", broken)
    s = Settings(
        graph_uri=f"embedded:{store_dir}", data_dir=tmp_path, api_keys=KEY, model_poll_s=0.05, refresh_retry_s=3.0
    )
    with TestClient(create_app(s), headers={"X-API-Key": KEY}) as c:
        services = services_of(c.app)
        assert c.get("/readyz").status_code == 200
        assert services.cograph.index is None and services.catalog.view.popular == ()
        assert c.get("/v1/users/u1/recommendations").status_code == 200
        assert c.get("/v1/items/popular").status_code == 200
        time.sleep(0.5)  # a window of maintenance ticks (every 0.05 s) that must not retry before the backoff
        failing = {r.name: r.backoff.failures for r in services.refreshers}
        assert {name for name, failures in failing.items() if failures} == {
            "trending catalogue",
            "co-interaction index",
        }, failing
        # not on every tick: each retry came at least its backoff (3 s, then 6 s, ...) after the attempt before;
        # a loaded machine may make retries late (more failures counted by now), never early
        for name, times in attempts.items():
            gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
            assert all(gap >= 3.0 * 2**k for k, gap in enumerate(gaps)), (name, gaps)
        services.store.upsert_items([ItemRecord("i1")])  # described: only catalogued items trend
        services.store.upsert_interactions(
            [InteractionDelta("u1", "i1", 1.0, 1, NOW, NOW), InteractionDelta("u2", "i1", 1.0, 1, NOW, NOW)]
        )
        monkeypatch.undo()  # the store is fine again: the retries after the backoff succeed
        wait_until(
            lambda: services.cograph.index is not None and services.catalog.view.popular,
            what="the retried refreshes to succeed",
            detail=lambda: [r.last_error for r in services.refreshers],
        )
        assert services.cograph.index is not None and [i for i, _ in services.catalog.view.popular] == ["i1"]
        assert all(r.backoff.failures == 0 and r.last_error is None for r in services.refreshers)


def test_empty_key_list_outside_local_refuses_to_start(store_dir: Path, tmp_path: Path) -> None:
    s = Settings(graph_uri=f"embedded:{store_dir}", data_dir=tmp_path, api_keys="", environment="staging")
    with pytest.raises(RuntimeError, match="GRAPHREC_API_KEYS is empty"), TestClient(create_app(s)):
        pass


@pytest.mark.integration
def test_a_hung_store_costs_three_timeouts_then_no_more_waiting(
    store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Settings(
        graph_uri=f"embedded:{store_dir}",
        data_dir=tmp_path,
        api_keys=KEY,
        store_check_s=0.2,
        history_timeout_s=0.2,
        store_timeout_s=2.0,
    )
    with TestClient(create_app(s), headers={"X-API-Key": KEY}) as c:
        reads = count_history_reads(c, monkeypatch)
        info = EmbeddedServer(store_dir).info()
        assert info is not None
        os.kill(info.pid, signal.SIGSTOP)  # accepts connections, answers nothing
        try:
            for _ in range(6):
                r = c.get("/v1/users/u1/recommendations")
                assert r.status_code in (200, 503) and r.status_code != 500
            assert len(reads) == 3  # three waited for the timeout; then the store counted as down
            assert c.get("/readyz").status_code == 503
        finally:
            os.kill(info.pid, signal.SIGCONT)
        wait_ready(c)
        assert c.get("/v1/users/u1/recommendations").status_code == 200
        assert len(reads) == 4
