"""The API records every list it served, off the request path: the background flush writes it within
``served_flush_s``, and shutdown writes what is left (api.main._flush_served, FeedbackLog.queue_served)."""

from __future__ import annotations

from pathlib import Path

from deadlines import wait_until
from fastapi.testclient import TestClient

from api.container import Services, services_of
from api.main import create_app
from graphrec import clock
from graphrec.config import Settings
from graphrec.events.log import connect
from tests.api.conftest import API_KEY


def _served_in_file(path: Path) -> list[tuple[str, str]]:
    """Read the file itself (FeedbackLog's reads would flush the queue first)."""
    with connect(path) as db:
        return db.execute("SELECT rec_id, actor FROM served ORDER BY created_ms").fetchall()


def _stock(client: TestClient, services: Services) -> None:
    now = clock.now_ms()
    events = [
        {"event_id": f"e{n}", "user_id": f"u{n % 3}", "item_id": f"i{n % 5}", "type": "click", "timestamp": now - n}
        for n in range(15)
    ]
    assert client.post("/v1/events", json={"events": events}).status_code == 202
    services.catalog.refresh(services.store)


def _recommend(client: TestClient, user: str) -> str:
    got = client.get(f"/v1/users/{user}/recommendations", params={"exclude_seen": "false"})
    assert got.status_code == 200, got.text
    return str(got.json()["recommendation_id"])


def test_a_served_list_reaches_the_file_within_the_flush_interval_without_any_read(
    client: TestClient, services: Services
) -> None:
    _stock(client, services)
    rec_id = _recommend(client, "u1")
    wait_until(
        lambda: (rec_id, "u1") in _served_in_file(services.event_log.path),
        what="the served list to be written by the background flush",
    )


def test_lists_still_queued_at_shutdown_are_written(settings: Settings) -> None:
    slow = settings.model_copy(update={"served_flush_s": 1.0})
    with TestClient(create_app(slow), headers={"X-API-Key": API_KEY}) as client:
        services = services_of(client.app)
        services.store.clear()
        _stock(client, services)
        rec_ids = [_recommend(client, "u2") for _ in range(3)]
        path = services.event_log.path
    assert [(r, "u2") for r in rec_ids] == _served_in_file(path)
