"""Overload and abuse: the concurrency limit sheds at once, failed key attempts and keyless reads are
limited per client address, and every shed request is counted in /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from deadlines import reach
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from api.main import create_app
from api.observability import Metrics
from api.shedding import ConcurrencyLimit
from graphrec.config import Settings
from tests.api.conftest import API_KEY


def shed_count(metrics_text: str, reason: str) -> float:
    for line in metrics_text.splitlines():
        if line.startswith(f'graphrec_shed_requests_total{{reason="{reason}"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no shed counter for {reason}")


def test_requests_beyond_the_concurrency_limit_get_an_immediate_503() -> None:
    release = asyncio.Event()
    entered = 0

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal entered
        entered += 1
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    metrics = Metrics()
    app = ConcurrencyLimit(slow_app, limit=2, metrics=metrics, retry_after_s=1)

    async def scenario() -> tuple[list[int], httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            held = [asyncio.create_task(c.get("/v1/items/popular")) for _ in range(2)]
            await reach(lambda: entered >= 2, what="two requests inside the app")
            shed = await c.get("/v1/items/popular")  # answered while the two are still held
            health = asyncio.create_task(c.get("/healthz"))  # operations routes are never shed
            await reach(lambda: entered >= 3, what="the health check inside the app")
            release.set()
            return [r.status_code for r in await asyncio.gather(*held)], shed, await health

    held, shed, health = asyncio.run(scenario())
    assert held == [200, 200]
    assert shed.status_code == 503 and shed.headers["Retry-After"] == "1"
    assert "server busy" in shed.json()["detail"]
    assert health.status_code == 200
    assert metrics.shed.labels("concurrency")._value.get() == 1
    assert app.in_flight == 0


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auth_failures_per_minute": 3.0})


def test_failed_key_attempts_are_throttled_per_client_address(app_settings: Settings) -> None:
    app = create_app(app_settings)
    other = TestClient(app, client=("10.0.0.2", 4000))  # no lifespan of its own: shares the running app's
    with TestClient(app, client=("10.0.0.1", 4000)) as attacker:
        codes = [
            attacker.get("/v1/users/u1/interactions", headers={"X-API-Key": f"guess-{n}"}).status_code for n in range(5)
        ]
        assert codes == [401, 401, 401, 429, 429]
        r = attacker.get("/v1/users/u1/interactions", headers={"X-API-Key": "guess-5"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1  # a wrong guess learns nothing
        assert "failed API-key attempts" in r.json()["detail"]
        # A valid key is never locked out by its address's failures (visitors behind the guesser's NAT),
        # nor is another address.
        assert attacker.get("/v1/users/u1/interactions", headers={"X-API-Key": API_KEY}).status_code in (200, 404)
        assert other.get("/v1/users/u1/interactions", headers={"X-API-Key": API_KEY}).status_code in (200, 404)
        assert shed_count(other.get("/metrics").text, "auth_failures") == 3


def test_keyless_reads_are_limited_per_client_address(settings: Settings) -> None:
    s = settings.model_copy(update={"api_keys": "", "ip_rate_limit_per_s": 0.01, "ip_rate_limit_burst": 2})
    app = create_app(s)
    b = TestClient(app, client=("10.0.0.4", 4000))  # shares the running app's state
    with TestClient(app, client=("10.0.0.3", 4000)) as a:
        codes = [a.get("/v1/items/popular").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        assert b.get("/v1/items/popular").status_code == 200
        # Writes need a key whatever the limits: an empty key list means none is accepted.
        r = b.post("/v1/events", json={"events": []}, headers={"X-API-Key": "x"})
        assert r.status_code == 401 and "no API keys are configured" in r.json()["detail"]
        assert shed_count(a.get("/metrics").text, "client_rate") == 1


def test_shed_counters_exist_before_anything_is_shed(client: TestClient) -> None:
    text = client.get("/metrics").text
    for reason in ("concurrency", "client_rate", "key_rate", "auth_failures", "store_unavailable"):
        assert shed_count(text, reason) == 0


@pytest.fixture
def tiny_limit(settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings.model_copy(update={"rate_limit_per_s": 0.01, "rate_limit_burst": 1})),
        headers={"X-API-Key": API_KEY},
    ) as c:
        yield c


def test_key_rate_limit_answers_429_with_retry_after_and_counts_it(tiny_limit: TestClient) -> None:
    assert tiny_limit.get("/v1/items/popular").status_code == 200
    r = tiny_limit.get("/v1/items/popular")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert shed_count(tiny_limit.get("/metrics").text, "key_rate") == 1


def test_writes_have_their_own_budget_and_every_request_a_deadline() -> None:
    release = asyncio.Event()
    late: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/stuck":
            await release.wait()  # a write waiting on a hung store
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    metrics = Metrics()
    limit = ConcurrencyLimit(
        app,
        limit=1,
        write_limit=2,
        metrics=metrics,
        retry_after_s=1,
        deadline_s=0.2,
        on_deadline=lambda scope: late.append(scope["path"]),
    )

    async def scenario() -> tuple[list[httpx.Response], httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=limit)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            stuck = [asyncio.create_task(c.post("/stuck")) for _ in range(2)]
            await reach(lambda: limit.writes_in_flight >= 2, what="two writes in flight")
            busy_write = await c.post("/other")  # the write budget is full...
            read = await c.get("/v1/items/popular")  # ...the reads' is not
            return list(await asyncio.gather(*stuck)), busy_write, read

    stuck, busy_write, read = asyncio.run(scenario())
    assert read.status_code == 200
    assert busy_write.status_code == 503 and "2 writes in flight" in busy_write.json()["detail"]
    # the stuck writes were answered at their deadline, never acknowledged
    assert [r.status_code for r in stuck] == [503, 503]
    assert all(r.headers["Retry-After"] == "1" and "not answered within 0.2 s" in r.json()["detail"] for r in stuck)
    assert late == ["/stuck", "/stuck"]
    assert metrics.shed.labels("deadline")._value.get() == 2
    assert limit.writes_in_flight == 0 and limit.in_flight == 0
