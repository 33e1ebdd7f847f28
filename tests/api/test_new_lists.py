"""The new lists through the real API on the embedded store (issue 28, point 5): frequently bought
together (one item, a cart), recently viewed (a user's, a visitor's) and new arrivals; each with its
content, the list filters, ``exclude=``, cursor pages that never repeat, ``explain``, no unavailable
item ever, and recently viewed's user-token rule for a publishable key."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.container import services_of
from api.main import create_app
from graphrec import clock
from graphrec.config import Settings
from graphrec.user_tokens import mint_user_token

PK = "pk_test_shop"
ORIGIN = "https://shop.example"
TOKEN_SECRET = "test-user-token-secret-0123456789-abcdef"
PAGE = {"X-API-Key": PK, "Origin": ORIGIN}
ITEMS = [f"P{n}" for n in range(10)]


def _item(n: int, **extra: Any) -> dict[str, Any]:
    """P<n>'s body for PUT /v1/items/P<n>: Kitchen when even, Garden when odd, priced 10 * n, brand acme below 5."""
    return {
        "title": f"Product {n}",
        "categories": ["Kitchen" if n % 2 == 0 else "Garden"],
        "price": 10.0 * n,
        "attributes": {"brand": "acme" if n < 5 else "other"},
        **extra,
    }


def _events(client: TestClient, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 40):  # the test settings' body limit
        assert client.post("/v1/events", json={"events": events[start : start + 40]}).status_code == 202


@pytest.fixture
def shop(settings: Settings) -> Iterator[TestClient]:
    """A catalogue listed one item at a time (P0 first, P9 last), shoppers s0..s4 who bought or carted
    P0 with P1..P5 (P1 with 5 of them, P2 with 4, ..., P5 with 1), a user u1 and a visitor v1 who browsed;
    the API has a secret key, a publishable key and a user-token secret; every index refreshed."""
    s = settings.model_copy(
        update={"publishable_keys": PK, "publishable_origins": ORIGIN, "user_token_secret": SecretStr(TOKEN_SECRET)}
    )
    with TestClient(create_app(s), headers={"X-API-Key": sorted(s.api_key_set)[0]}) as c:
        services = services_of(c.app)
        services.store.clear()
        for n in range(10):
            assert c.put(f"/v1/items/P{n}", json=_item(n)).status_code == 200
            time.sleep(0.003)  # each listed at its own millisecond
        now = clock.now_ms()
        events = []
        for j in range(5):  # s0 bought P0..P5, s1 P0..P4, ..., s4 P0 and P1; s3 and s4 only carted
            kind = "purchase" if j < 3 else "add_to_cart"
            for n in range(6 - j):
                events.append(
                    {"event_id": f"s{j}-{n}", "user_id": f"s{j}", "item_id": f"P{n}", "type": kind, "timestamp": now}
                )
        for step, (item, kind) in enumerate(
            [("P2", "view"), ("P7", "view"), ("P4", "click"), ("P9", "dislike"), ("P6", "view")]
        ):
            ts = now - 600_000 + step * 60_000  # u1's newest positive edges: P6 (6 min ago), P4, P7, P2 (10)
            events.append({"event_id": f"u1-{step}", "user_id": "u1", "item_id": item, "type": kind, "timestamp": ts})
        for step, item in enumerate(["P3", "P8"]):
            events.append(
                {
                    "event_id": f"v1-{step}",
                    "anonymous_id": "v1",
                    "item_id": item,
                    "type": "view",
                    "timestamp": now - step,
                }
            )
        _events(c, events)
        services.catalog.refresh(services.store)
        services.bought_together.refresh(services.store)
        yield c


def _ids(answer: dict[str, Any]) -> list[str]:
    return [d["item_id"] for d in answer["data"]]


def _get(client: TestClient, path: str, **params: Any) -> dict[str, Any]:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _pages(client: TestClient, path: str, k: int, **params: Any) -> list[list[str]]:
    """Every page of a list, following next_cursor (at most 20 pages)."""
    pages, cursor = [], None
    for _ in range(20):
        answer = _get(client, path, k=k, **params, **({"cursor": cursor} if cursor else {}))
        pages.append(_ids(answer))
        cursor = answer["next_cursor"]
        if cursor is None:
            return pages
    raise AssertionError("the list never ended")


def _mark_unavailable(client: TestClient, n: int) -> None:
    assert client.put(f"/v1/items/P{n}", json=_item(n, available=False)).status_code == 200


# -- frequently bought together ----------------------------------------------------------------------


def test_bought_together_lists_co_purchases_by_distinct_shoppers_with_reasons(shop: TestClient) -> None:
    r = shop.get("/v1/items/P0/bought-together", params={"explain": "true"})
    assert r.status_code == 200 and r.headers["Cache-Control"].startswith("public") and r.headers["ETag"]
    answer = r.json()
    assert answer["item_ids"] == ["P0"] and answer["reason"] is None and answer["built_ms"] > 0
    assert _ids(answer) == ["P1", "P2", "P3", "P4", "P5"]
    assert [d["shoppers"] for d in answer["data"]] == [5, 4, 3, 2, 1]
    first = answer["data"][0]
    assert first["score"] == 1.0 and first["source"] == "bought_together" and first["available"] is True
    assert first["reasons"] == ["bought together with 'Product 0' by 5 shoppers"]
    assert (first["categories"], first["price"]) == (["Garden"], 10.0)
    assert shop.get("/v1/items/P0/bought-together").json()["data"][0]["reasons"] is None
    # P1's: everything s0..s4 bought with it
    assert _ids(_get(shop, "/v1/items/P1/bought-together")) == ["P0", "P2", "P3", "P4", "P5"]


def test_an_item_nobody_bought_with_anything_answers_an_empty_list_with_the_reason(shop: TestClient) -> None:
    for path in ("/v1/items/P7/bought-together", "/v1/items/never-heard-of/bought-together"):
        answer = _get(shop, path)
        assert (answer["data"], answer["reason"], answer["next_cursor"]) == ([], "no_co_purchases", None)
    # filters that leave nothing are not that reason: things were bought with it
    assert _get(shop, "/v1/items/P0/bought-together", price_min=1000)["reason"] is None


def test_a_carts_list_adds_up_its_items_shoppers_and_never_lists_them(shop: TestClient) -> None:
    answer = _get(shop, "/v1/items/bought-together", items=["P4", "P5"], explain="true")
    assert answer["item_ids"] == ["P4", "P5"]
    # with P4 (s0, s1) and P5 (s0): P0..P3 by 2 + 1 each; ties by id
    assert [(d["item_id"], d["shoppers"]) for d in answer["data"]] == [("P0", 3), ("P1", 3), ("P2", 3), ("P3", 3)]
    assert answer["data"][0]["reasons"] == [
        "bought together with 'Product 4' by 2 shoppers",
        "bought together with 'Product 5' by 1 shopper",
    ]
    assert answer["data"][0]["evidence"] == ["P4", "P5"]
    comma = _get(shop, "/v1/items/bought-together", items="P5,P4")
    assert _ids(comma) == _ids(answer)


def test_a_cart_is_held_to_the_id_rule_and_its_size(shop: TestClient) -> None:
    r = shop.get("/v1/items/bought-together", params={"items": ["P1", " bad"]})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "items" and "whitespace" in r.text
    r = shop.get("/v1/items/bought-together", params={"items": [f"x{n}" for n in range(51)]})
    assert r.status_code == 422 and "1 to 50" in r.text
    assert shop.get("/v1/items/bought-together").status_code == 422  # no cart at all


def test_bought_together_filters_exclude_pages_and_availability(shop: TestClient) -> None:
    path = "/v1/items/P0/bought-together"
    assert _ids(_get(shop, path, category="Kitchen")) == ["P2", "P4"]
    assert _ids(_get(shop, path, price_max=30)) == ["P1", "P2", "P3"]
    assert _ids(_get(shop, path, attr="brand:other")) == ["P5"]
    assert _ids(_get(shop, path, exclude="P1,P3")) == ["P2", "P4", "P5"]
    assert shop.get(path, params={"category": "Nope"}).status_code == 422
    pages = _pages(shop, path, 2)
    assert pages == [["P1", "P2"], ["P3", "P4"], ["P5"]]
    _mark_unavailable(shop, 2)  # the answering process at once ...
    assert "P2" not in _ids(_get(shop, path))
    services = services_of(shop.app)
    services.catalog.refresh(services.store)  # ... and after a refresh from the store
    services.bought_together.refresh(services.store)
    assert _ids(_get(shop, path)) == ["P1", "P3", "P4", "P5"]


# -- recently viewed ---------------------------------------------------------------------------------


def test_recently_viewed_is_the_actors_history_newest_first_without_dislikes(shop: TestClient) -> None:
    answer = _get(shop, "/v1/users/u1/recently-viewed", explain="true")
    assert answer["user_id"] == "u1" and _ids(answer) == ["P6", "P4", "P7", "P2"]
    newest = answer["data"][0]
    assert (newest["source"], newest["score"], newest["title"]) == ("history", 1.0, "Product 6")
    assert newest["viewed_ms"] > answer["data"][1]["viewed_ms"]
    minutes = [re.fullmatch(r"you viewed this (\d+) minutes ago", d["reasons"][0]) for d in answer["data"]]
    assert [int(m.group(1)) - 6 for m in minutes if m] in ([0, 2, 3, 4], [1, 3, 4, 5])  # a slow minute may pass
    assert "Cache-Control" not in shop.get("/v1/users/u1/recently-viewed").headers  # never shared
    assert _ids(_get(shop, "/v1/anonymous/v1/recently-viewed")) == ["P3", "P8"]
    assert _get(shop, "/v1/users/nobody/recently-viewed")["data"] == []


def test_recently_viewed_filters_exclude_pages_and_availability(shop: TestClient) -> None:
    path = "/v1/users/u1/recently-viewed"
    assert _ids(_get(shop, path, category="Kitchen")) == ["P6", "P4", "P2"]
    assert _ids(_get(shop, path, price_min=30, price_max=60)) == ["P6", "P4"]
    assert _ids(_get(shop, path, attr="brand:acme")) == ["P4", "P2"]
    assert _ids(_get(shop, path, exclude="P4")) == ["P6", "P7", "P2"]
    assert shop.get(path, params={"category": "Nope"}).status_code == 422
    assert _pages(shop, path, 3) == [["P6", "P4", "P7"], ["P2"]]
    _mark_unavailable(shop, 4)
    assert _ids(_get(shop, path)) == ["P6", "P7", "P2"]


def test_a_publishable_key_reads_a_users_recently_viewed_only_with_their_token(shop: TestClient) -> None:
    path = "/v1/users/u1/recently-viewed"
    r = shop.get(path, headers=PAGE)
    assert r.status_code == 401 and "user token (X-User-Token) missing" in r.json()["detail"]
    other = mint_user_token(TOKEN_SECRET, "someone-else", 3600, now=int(time.time()))
    r = shop.get(path, headers={**PAGE, "X-User-Token": other})
    assert r.status_code == 403 and "another user" in r.json()["detail"]
    own = mint_user_token(TOKEN_SECRET, "u1", 3600, now=int(time.time()))
    r = shop.get(path, headers={**PAGE, "X-User-Token": own})
    assert r.status_code == 200 and _ids(r.json()) == ["P6", "P4", "P7", "P2"]
    # a visitor's own list needs no token
    assert shop.get("/v1/anonymous/v1/recently-viewed", headers=PAGE).status_code == 200


# -- new arrivals ------------------------------------------------------------------------------------


def test_new_arrivals_are_newest_listed_first_and_carry_the_listed_time(shop: TestClient) -> None:
    r = shop.get("/v1/items/new", params={"explain": "true"})
    assert r.status_code == 200 and r.headers["Cache-Control"].startswith("public")
    answer = r.json()
    assert _ids(answer) == ITEMS[::-1]
    listed = [d["listed_ms"] for d in answer["data"]]
    assert listed == sorted(listed, reverse=True) and len(set(listed)) == 10
    assert answer["data"][0]["score"] == 1.0 and answer["data"][0]["source"] == "new"
    assert answer["data"][0]["reasons"][0].startswith("new in the catalogue: listed ")
    # the view's times are the store's: a refresh (what another process reads) changes nothing
    services = services_of(shop.app)
    services.catalog.refresh(services.store)
    assert [d["listed_ms"] for d in _get(shop, "/v1/items/new")["data"]] == listed
    # a later upsert does not make an item new again; a new item is first at once
    assert shop.put("/v1/items/P0", json=_item(0, title="Renamed")).status_code == 200
    assert shop.put("/v1/items/P10", json=_item(10)).status_code == 200
    assert _ids(_get(shop, "/v1/items/new", k=3)) == ["P10", "P9", "P8"]
    assert _ids(_get(shop, "/v1/items/new"))[-1] == "P0"


def test_new_arrivals_filters_exclude_pages_and_availability(shop: TestClient) -> None:
    path = "/v1/items/new"
    assert _ids(_get(shop, path, category="Garden")) == ["P9", "P7", "P5", "P3", "P1"]
    assert _ids(_get(shop, path, price_max=20)) == ["P2", "P1", "P0"]
    assert _ids(_get(shop, path, attr="brand:acme", exclude=["P4", "P3"])) == ["P2", "P1", "P0"]
    assert shop.get(path, params={"category": "Nope"}).status_code == 422
    pages = _pages(shop, path, 4)
    assert pages == [ITEMS[9:5:-1], ITEMS[5:1:-1], ["P1", "P0"]]
    _mark_unavailable(shop, 9)
    assert _ids(_get(shop, path, k=2)) == ["P8", "P7"]
    assert "P9" not in _ids(_get(shop, path, category="Garden"))


def test_a_cursor_of_one_list_is_no_cursor_of_another(shop: TestClient) -> None:
    cursor = _get(shop, "/v1/items/new", k=2)["next_cursor"]
    assert cursor
    for path in ("/v1/items/P0/bought-together", "/v1/users/u1/recently-viewed"):
        r = shop.get(path, params={"cursor": cursor})
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "cursor"
    r = shop.get("/v1/items/new", params={"cursor": cursor, "category": "Garden"})
    assert r.status_code == 422
