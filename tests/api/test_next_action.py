"""GET /v1/users/{id}/next and /v1/anonymous/{id}/next over the real app and embedded store: the chain fitted
from the posted sessions, the user's last event as the start, popularity when there is nothing to go on."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.container import Services
from factories import event
from graphrec import clock
from graphrec.graph.port import GraphStore
from graphrec.graph.records import ItemRecord

NOW = clock.now_ms()


def _post(client: TestClient, sessions: list[tuple[str, list[str]]], *, anonymous: bool = False) -> None:
    events, t = [], NOW - 3_600_000
    for s, (actor, items) in enumerate(sessions):
        for item in items:
            who = {"anonymous_id": actor} if anonymous else {"user_id": actor}
            body = event(f"n{actor}{len(events)}", item_id=item, type="view", ts=t, **who)  # type: ignore[arg-type]
            events.append({**body, "context": {"session_id": f"s{s}-{actor}"}})
            t += 60_000
    sent = client.post("/v1/events", json={"events": events})
    assert sent.status_code == 202, sent.text


@pytest.fixture
def fitted(client: TestClient, services: Services, api_store: GraphStore) -> Services:
    api_store.upsert_items(
        [ItemRecord("a1", "A", ("Comedy",)), ItemRecord("b1", "B", ("Drama",)), ItemRecord("c1", "C", ("Action",))]
    )
    # transitions Comedy->Drama 2, Comedy->Action 1, Drama->Comedy 1; u5's one visit ends on Comedy
    _post(
        client, [("u1", ["a1", "b1"]), ("u2", ["a1", "b1"]), ("u3", ["a1", "c1"]), ("u4", ["b1", "a1"]), ("u5", ["a1"])]
    )
    services.catalog.refresh(api_store)
    services.next_action.refresh(services.event_log, services.catalog.view.categories)
    return services


def test_next_categories_come_from_the_chain_at_the_users_last_event(client: TestClient, fitted: Services) -> None:
    body = client.get("/v1/users/u5/next", params={"k": 3}).json()
    assert body["last_item_id"] == "a1" and body["current_categories"] == ["Comedy"]
    assert body["basis"] == "transitions" and body["count"] == 3
    # popularity (visits + 1) / (steps + 3): Comedy 6/12, Drama 4/12, Action 2/12; P(. | Comedy) = (C + pi) / 4
    expected = {"Drama": (2 + 4 / 12) / 4, "Action": (1 + 2 / 12) / 4, "Comedy": (6 / 12) / 4}
    assert [d["category"] for d in body["data"]] == ["Drama", "Action", "Comedy"]
    assert {d["category"]: d["probability"] for d in body["data"]} == pytest.approx(expected, abs=1e-6)
    assert sum(d["probability"] for d in body["data"]) == pytest.approx(1.0, abs=1e-5)
    model = body["model"]
    assert (model["sessions"], model["steps"], model["transitions"], model["categories"]) == (5, 9, 4.0, 3)
    top = client.get("/v1/users/u4/next", params={"k": 1}).json()  # u4 ended on Comedy too
    assert [d["category"] for d in top["data"]] == ["Drama"] and top["count"] == 1


def test_without_events_the_answer_is_the_popularity(client: TestClient, fitted: Services) -> None:
    body = client.get("/v1/users/nobody/next").json()
    assert body["basis"] == "popularity" and body["last_item_id"] is None and body["last_event_ms"] is None
    assert [(d["category"], round(d["probability"], 4)) for d in body["data"]] == [
        ("Comedy", 0.5),
        ("Drama", round(4 / 12, 4)),
        ("Action", round(2 / 12, 4)),
    ]


def test_an_anonymous_visitor_gets_the_chain_too(client: TestClient, fitted: Services) -> None:
    _post(client, [("v-1", ["b1"])], anonymous=True)  # after the fit: the start is read live from the log
    body = client.get("/v1/anonymous/v-1/next", params={"k": 3}).json()
    assert body["user_id"] == "v-1" and body["current_categories"] == ["Drama"] and body["basis"] == "transitions"
    assert body["data"][0] == {"category": "Comedy", "probability": pytest.approx((1 + 6 / 12) / 2, abs=1e-6)}


def test_next_input_is_validated(client: TestClient) -> None:
    bad = client.get("/v1/users/u1/next", params={"k": 0})
    assert bad.status_code == 422 and "k" in bad.text
    reserved = client.get("/v1/users/anon:x/next")
    assert reserved.status_code == 422 and "anon:" in reserved.text
    assert client.get("/v1/users/u1/next", headers={"X-API-Key": ""}).status_code == 401
