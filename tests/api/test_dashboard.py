"""GET /v1/dashboard: the numbers the dashboard page plots, from the real log, feedback and store."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import event
from graphrec import clock


def test_dashboard_data_counts_what_happened(client: TestClient) -> None:
    now = clock.now_ms()
    sent = client.post(
        "/v1/events",
        json={
            "events": [
                event(f"d{k}", user_id=f"u{k % 3}", item_id=f"i{k % 5}", type="view", ts=now - 1_000 * k)
                for k in range(12)
            ]
        },
    )
    assert sent.status_code == 202
    data = client.get("/v1/dashboard").json()
    assert data["ingest"]["total"] == 12
    per_minute = data["ingest"]["per_minute"]
    assert 60 <= len(per_minute) <= 62 and sum(p["events"] for p in per_minute) == 12
    assert [p["t"] for p in per_minute] == sorted(p["t"] for p in per_minute)
    assert data["experiment"] is None and isinstance(data["models"], list)


def test_dashboard_data_needs_a_secret_key(client: TestClient) -> None:
    assert client.get("/v1/dashboard", headers={"X-API-Key": ""}).status_code == 401
