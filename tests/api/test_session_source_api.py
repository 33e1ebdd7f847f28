"""The API mixes an anonymous visitor's likely next category into their list (issue 16, point 4)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.container import services_of
from graphrec import clock
from graphrec.graph.records import ItemRecord


def test_the_api_mixes_the_next_category_into_an_anonymous_visitors_list(client: TestClient) -> None:
    services = services_of(client.app)
    store = services.store
    store.upsert_items([ItemRecord(f"{c}{n}", title=f"{c}{n}", categories=(c,)) for c in "ABC" for n in range(20)])
    now = clock.now_ms()
    events = []
    for v in range(30):  # sessions that go from A to B: the chain learns A -> B
        for step, item in enumerate((f"A{v % 20}", f"B{v % 20}", f"B{(v + 7) % 20}")):
            events.append(
                {
                    "event_id": f"s{v}-{step}",
                    "anonymous_id": f"v{v}",
                    "item_id": item,
                    "type": "view",
                    "timestamp": now - 600_000 + v * 1_000 + step * 30_000,
                }
            )
    assert client.post("/v1/events", json={"events": events[:50]}).status_code == 202
    assert client.post("/v1/events", json={"events": events[50:]}).status_code == 202
    services.catalog.refresh(store)
    services.next_action.refresh(services.event_log, services.catalog.view.categories)
    visit = {"event_id": "new-1", "anonymous_id": "newcomer", "item_id": "A3", "type": "view", "timestamp": now}
    assert client.post("/v1/events", json={"events": [visit]}).status_code == 202
    body = client.get("/v1/anonymous/newcomer/recommendations", params={"k": 8, "explain": True}).json()
    session = [d for d in body["data"] if d["source"] == "session"]
    assert session and all(d["categories"] == ["B"] for d in session), body["data"]
    assert "go on to B" in session[0]["reasons"][0]
