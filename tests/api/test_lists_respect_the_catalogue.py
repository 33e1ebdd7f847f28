"""Every list respects the catalogue (issue 28, point 1): an item marked ``available: false`` is in no
list at once on the answering process and after its refresh from the store; listed items carry
``available``; ``price_min``/``price_max`` hold on every list; an empty range is a 422 naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.container import services_of
from graphrec import clock

CATEGORIES = ("A", "B")


def _items() -> list[dict[str, Any]]:
    """A0..A9 and B0..B9, each priced 10 * n (A9 and B9 have no price); even ones are brand "acme"."""
    return [
        {
            "item_id": f"{c}{n}",
            "title": f"{c}{n}",
            "categories": [c],
            "attributes": {"brand": "acme" if n % 2 == 0 else "other", "size": "m"},
            **({"price": 10.0 * n} if n < 9 else {}),
        }
        for c in CATEGORIES
        for n in range(10)
    ]


@pytest.fixture
def shop(client: TestClient) -> TestClient:
    """A catalogue, users u0..u11 and visitors v0..v11 who browse it (sessions from A to B)."""
    services = services_of(client.app)
    assert client.put("/v1/items", json={"items": _items()}).status_code == 200
    now = clock.now_ms()
    events = []
    for who in range(12):
        for step, item in enumerate((f"A{who % 10}", f"A{(who + 3) % 10}", f"B{who % 10}", f"B{(who + 5) % 10}")):
            ts = now - 600_000 + who * 1_000 + step * 30_000
            common = {"item_id": item, "timestamp": ts}
            events.append({"event_id": f"u{who}-{step}", "user_id": f"u{who}", "type": "click", **common})
            events.append({"event_id": f"v{who}-{step}", "anonymous_id": f"v{who}", "type": "view", **common})
    for start in range(0, len(events), 40):  # the test settings' body limit
        assert client.post("/v1/events", json={"events": events[start : start + 40]}).status_code == 202
    services.catalog.refresh(services.store)
    services.next_action.refresh(services.event_log, services.catalog.view.categories)
    return client


def _lists(client: TestClient, **params: Any) -> dict[str, list[dict[str, Any]]]:
    """Every list the API serves, with ``params``, by name."""
    answers = {
        "user": client.get("/v1/users/u1/recommendations", params={"k": 20, **params}),
        "cold user": client.get("/v1/users/nobody/recommendations", params={"k": 20, **params}),
        "visitor": client.get("/v1/anonymous/v1/recommendations", params={"k": 20, **params}),
        "new visitor": client.get("/v1/anonymous/nobody/recommendations", params={"k": 20, **params}),
        "similar": client.get("/v1/items/A1/similar", params={"k": 20, **params}),
        "popular": client.get("/v1/items/popular", params={"k": 20, **params}),
        "popular in B": client.get("/v1/items/popular", params={"k": 20, **params, "category": "B"}),
    }
    for name, r in answers.items():
        assert r.status_code == 200, (name, r.text)
    return {name: r.json()["data"] for name, r in answers.items()}


def _listed(lists: dict[str, list[dict[str, Any]]]) -> set[str]:
    return {d["item_id"] for data in lists.values() for d in data}


def test_an_unavailable_item_is_in_no_list_at_once_and_after_a_refresh(shop: TestClient) -> None:
    before = _lists(shop)
    assert all(before.values()), {name: len(data) for name, data in before.items()}
    # the items every list shows first (and the visitor's likely next category's best)
    gone = {data[0]["item_id"] for data in before.values()}
    assert len(gone) >= 2
    marked = [{**it, "available": False} for it in _items() if it["item_id"] in gone]
    assert shop.put("/v1/items", json={"items": marked}).status_code == 200
    now = _lists(shop)  # no refresh: the answering process applied the upsert
    assert not gone & _listed(now), {name: gone & {d["item_id"] for d in data} for name, data in now.items()}
    assert all(d["available"] is True for data in now.values() for d in data)
    assert all(now["popular"]), now
    services = services_of(shop.app)
    services.catalog.refresh(services.store)  # what another process reads from the store
    assert not gone & _listed(_lists(shop))
    one = sorted(gone)[0]
    restocked = [{**it, "available": True} for it in _items() if it["item_id"] == one]
    assert shop.put("/v1/items", json={"items": restocked}).status_code == 200
    assert one in _listed(_lists(shop))
    assert shop.get(f"/v1/items/{sorted(gone)[1]}").json()["available"] is False


def test_price_filters_hold_on_every_list(shop: TestClient) -> None:
    lists = _lists(shop, price_min=20, price_max=50)
    assert any(lists.values())
    prices = {d["item_id"]: d["price"] for data in lists.values() for d in data}
    assert prices and all(p is not None and 20 <= p <= 50 for p in prices.values()), prices
    cheap = _lists(shop, price_max=0)
    assert {d["item_id"] for data in cheap.values() for d in data} <= {"A0", "B0"}


def test_an_empty_price_range_is_refused_naming_the_field(shop: TestClient) -> None:
    for path in ("/v1/users/u1/recommendations", "/v1/items/A1/similar", "/v1/items/popular"):
        r = shop.get(path, params={"price_min": 50, "price_max": 20})
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == [
            {"index": None, "field": "price_max", "reason": "price_max 20 is below price_min 50"}
        ]
        r = shop.get(path, params={"price_min": -1})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "price_min", r.text


def test_attribute_filters_hold_on_every_list(shop: TestClient) -> None:
    lists = _lists(shop, attr=["brand:acme", "size:m"])
    assert any(lists.values())
    listed = _listed(lists)
    assert listed and all(int(item[1:]) % 2 == 0 for item in listed), listed
    assert shop.get("/v1/items/A2").json()["attributes"] == {"brand": "acme", "size": "m"}
    assert not _listed(_lists(shop, attr=["brand:nobody"]))


def test_bad_attributes_are_refused_naming_the_field(shop: TestClient) -> None:
    r = shop.get("/v1/items/popular", params={"attr": ["brand:acme", "no-colon"]})
    assert r.status_code == 422 and r.json()["detail"] == [
        {"index": 1, "field": "attr", "reason": "'no-colon': expected name:value"}
    ], r.text
    r = shop.get("/v1/users/u1/recommendations", params={"attr": "Brand:acme"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "attr", r.text
    r = shop.put("/v1/items/A1", json={"title": "A1", "attributes": {"Bad Name": "x"}})
    assert r.status_code == 422 and "attributes" in r.json()["detail"][0]["field"], r.text
