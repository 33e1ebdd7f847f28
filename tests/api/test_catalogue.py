"""The catalogue API (issue 15, point 5) on the real app over the embedded store: upserts and reads,
validation naming the field, all-or-nothing batches, cursor pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.pages
from api.container import Services, services_of
from api.cursors import seal, unseal
from api.main import create_app
from factories import event
from graphrec import clock
from graphrec.config import Settings
from graphrec.graph.port import GraphStore
from graphrec.graph.records import InteractionDelta
from graphrec.recommend.paging import LeaveOut, item_digest
from tests.api.conftest import API_KEY

MUG: dict[str, Any] = {
    "title": "Blue mug",
    "categories": ["Kitchen", "Gifts"],
    "url": "https://shop.example/mug",
    "image_url": "/img/mug.png",
    "price": 12.5,
    "currency": "EUR",
    "available": True,
    "attributes": {"material": "stoneware", "colour": "blue"},
}


def item(item_id: str, **fields: Any) -> dict[str, Any]:
    return {"item_id": item_id, **fields}


def errors(r: Any) -> list[tuple[int | None, str]]:
    assert r.status_code == 422, r.text
    return [(e["index"], e["field"]) for e in r.json()["detail"]]


def test_upsert_then_read_back_every_field(client: TestClient) -> None:
    r = client.put("/v1/items/mug", json=MUG)
    assert r.status_code == 200, r.text
    expected = {"item_id": "mug", **MUG, "categories": ["Gifts", "Kitchen"], "provisional": False}
    assert r.json() == expected
    assert client.get("/v1/items/mug").json() == expected
    # a second upsert replaces the fields and the category set as a whole
    r = client.put("/v1/items/mug", json={"title": "Mug", "categories": ["Sale"], "price": 0})
    assert r.status_code == 200, r.text
    again = client.get("/v1/items/mug").json()
    assert again == {
        "item_id": "mug",
        "title": "Mug",
        "categories": ["Sale"],
        "url": None,
        "image_url": None,
        "price": 0.0,
        "currency": None,
        "available": True,
        "provisional": False,
        "attributes": {},  # replaced as a whole too
    }
    assert client.get("/v1/categories").json() == {"data": [{"name": "Sale", "items": 1}], "count": 1}


def test_unknown_item_is_404(client: TestClient) -> None:
    r = client.get("/v1/items/nope")
    assert r.status_code == 404 and "unknown item 'nope'" in r.json()["detail"]


def test_items_created_by_events_are_provisional_until_described(client: TestClient) -> None:
    r = client.post("/v1/events", json={"events": [event("e1", user_id="u1", item_id="ghost", type="view")]})
    assert r.status_code == 202, r.text
    ghost = client.get("/v1/items/ghost").json()
    assert ghost["provisional"] is True and ghost["title"] is None and ghost["available"] is True
    client.put("/v1/items/ghost", json={"title": "Ghost"})
    assert client.get("/v1/items/ghost").json()["provisional"] is False


def test_a_batch_is_upserted_whole(client: TestClient, api_store: GraphStore) -> None:
    r = client.put("/v1/items", json={"items": [item("a", title="A", categories=["X"]), item("b", **MUG)]})
    assert r.status_code == 200 and r.json() == {"upserted": 2}, r.text
    assert [i.id for i in api_store.list_items()] == ["a", "b"]
    assert client.get("/v1/categories").json()["data"] == [
        {"name": "Gifts", "items": 1},
        {"name": "Kitchen", "items": 1},
        {"name": "X", "items": 1},
    ]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"price": -1}, "price"),
        ({"price": "NaN"}, "price"),
        ({"currency": "eur"}, "currency"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"image_url": "//evil.example/x.png"}, "image_url"),
        ({"url": "/a b"}, "url"),
        ({"url": "https://x.example/" + "a" * 2048}, "url"),
        ({"title": "t" * 513}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"categories": ["ok", " padded"]}, "categories[1]"),
        ({"categories": [""]}, "categories[0]"),
        ({"categories": [f"c{k}" for k in range(33)]}, "categories"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_field_is_refused_by_name_and_nothing_is_written(
    client: TestClient, api_store: GraphStore, bad: dict[str, Any], field: str
) -> None:
    r = client.put("/v1/items/mug", json={**MUG, **bad})
    assert errors(r)[0][1] == field, r.text
    batch = client.put("/v1/items", json={"items": [item("ok", title="fine"), item("mug", **{**MUG, **bad})]})
    assert errors(batch)[0] == (1, f"items[1].{field}"), batch.text
    assert api_store.counts().items == 0, "a refused batch writes nothing"


def test_a_batch_names_each_bad_item_and_repeated_ids(client: TestClient, api_store: GraphStore) -> None:
    r = client.put("/v1/items", json={"items": [item("a"), item("b/c"), item("d", price=-2)]})
    assert errors(r) == [(1, "items[1].item_id"), (2, "items[2].price")]
    r = client.put("/v1/items", json={"items": [item("a"), item("b"), item("a", title="again")]})
    assert errors(r) == [(2, "items[2].item_id")] and "items[0]" in r.json()["detail"][0]["reason"]
    assert errors(client.put("/v1/items", json={"items": []})) == [(None, "items")]
    too_many = {"items": [item(f"i{k}") for k in range(1_001)]}
    assert errors(client.put("/v1/items", json=too_many)) == [(None, "items")]
    assert api_store.counts().items == 0


def _all_pages(client: TestClient, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    cursor = None
    for _ in range(1_000):  # a cursor that never ends fails here instead of looping forever
        r = client.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        yield body
        cursor = body["next_cursor"]
        if cursor is None:
            return
    raise AssertionError(f"{path} still gave a next_cursor after 1,000 pages")


def test_the_listing_pages_by_id_without_repeats_and_ends_with_a_null_cursor(client: TestClient) -> None:
    client.put(
        "/v1/items",
        json={"items": [item(f"i{k:02d}", categories=["Even" if k % 2 == 0 else "Odd"]) for k in range(25)]},
    )
    pages = list(_all_pages(client, "/v1/items", limit=10))
    assert [p["count"] for p in pages] == [10, 10, 5]
    ids = [d["item_id"] for p in pages for d in p["data"]]
    assert ids == [f"i{k:02d}" for k in range(25)]
    exact = list(_all_pages(client, "/v1/items", limit=5, category="Odd"))  # 12 odd items: 5, 5, 2
    assert [d["item_id"] for p in exact for d in p["data"]] == [f"i{k:02d}" for k in range(1, 25, 2)]
    assert exact[-1]["next_cursor"] is None
    ten = list(_all_pages(client, "/v1/items", limit=5, category="Even"))  # 13 even items
    assert [p["count"] for p in ten] == [5, 5, 3]


def test_bad_listing_inputs_name_their_field(client: TestClient) -> None:
    client.put("/v1/items", json={"items": [item(f"i{k}", categories=["A"]) for k in range(3)]})
    assert errors(client.get("/v1/items", params={"category": "Nope"})) == [(None, "category")]
    first = client.get("/v1/items", params={"limit": 1}).json()
    cursor = first["next_cursor"]
    body, mac = cursor.split(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    for bad in ("garbage", tampered, cursor + "x", "." + mac):
        assert errors(client.get("/v1/items", params={"cursor": bad})) == [(None, "cursor")], bad
    other = client.get("/v1/items", params={"cursor": cursor, "category": "A"})
    assert errors(other) == [(None, "cursor")]
    assert errors(client.get("/v1/items", params={"limit": 201})) == [(None, "limit")]
    assert client.get("/v1/items", params={"cursor": cursor, "limit": 5}).json()["count"] == 2  # k may change


def test_upserts_reach_the_in_memory_catalogue_view_at_once(client: TestClient, services: Services) -> None:
    client.put("/v1/items/mug", json=MUG)
    view = services.catalog.view
    assert view.title("mug") == "Blue mug"
    assert view.details("mug") == (("Gifts", "Kitchen"), ("https://shop.example/mug", "/img/mug.png", 12.5, "EUR"))
    assert "Kitchen" in view.category_names
    client.put("/v1/items", json={"items": [item("mug", title="Mug")]})
    assert services.catalog.view.details("mug") == ((), (None, None, None, None))
    services.catalog.refresh(services.store)  # a refresh reads the same from the store
    assert services.catalog.view.title("mug") == "Mug"


def test_a_body_that_is_not_json_is_refused(client: TestClient, api_store: GraphStore) -> None:
    r = client.put("/v1/items/mug", content=b"{not json", headers={"Content-Type": "application/json"})
    # 400, as on POST /v1/events: a body that is not JSON is malformed, not a value that failed validation
    assert r.status_code == 400, r.text
    assert r.json()["detail"] == "malformed JSON: Expecting property name enclosed in double quotes at line 1 column 2"
    assert api_store.counts().items == 0


# -- the four recommendation lists: exclude=, cursor pages, catalogue fields ------------------------

LISTS = (
    "/v1/users/u0/recommendations",
    "/v1/anonymous/a0/recommendations",
    "/v1/items/i00/similar",
    "/v1/items/popular",
)


@pytest.fixture
def shop(client: TestClient, services: Services) -> TestClient:
    """30 described items, users whose tastes overlap (so every list is long), indexes built."""
    client.put(
        "/v1/items",
        json={
            "items": [
                item(
                    f"i{k:02d}",
                    title=f"Item {k}",
                    categories=["A" if k % 2 else "B"],
                    url=f"/p/{k}",
                    image_url=f"https://cdn.example/{k}.png",
                    price=k + 0.5,
                    currency="EUR",
                )
                for k in range(30)
            ]
        },
    )
    now = clock.now_ms()
    actors = [f"u{u}" for u in range(12)] + ["anon:a0"]
    services.store.upsert_interactions(
        [
            InteractionDelta(actor, f"i{(3 * u + j) % 30:02d}", 1.0 + (u + j) % 4, 1, now - 1000 * j, now - 1000 * j)
            for u, actor in enumerate(actors)
            for j in range(8)
        ]
    )
    services.catalog.refresh(services.store)
    services.cograph.refresh(services.store)
    return client


def pages(client: TestClient, path: str, **params: Any) -> list[dict[str, Any]]:
    return list(_all_pages(client, path, **params))


@pytest.mark.parametrize("path", LISTS)
def test_a_list_pages_without_repeats_to_a_null_cursor(shop: TestClient, path: str) -> None:
    whole = shop.get(path, params={"k": 100}).json()
    assert whole["next_cursor"] is None and whole["count"] >= 12, whole  # a short page ends the list
    got = pages(shop, path, k=5)
    ids = [d["item_id"] for p in got for d in p["data"]]
    assert len(got) >= 3 and got[-1]["next_cursor"] is None
    assert len(ids) == len(set(ids)), "no item comes twice"
    # nothing changed between the pages, so they are the one ranking, cut in pages
    assert ids == [d["item_id"] for d in whole["data"]]
    assert all(p["count"] == 5 for p in got[:-1])


@pytest.mark.parametrize("path", LISTS)
def test_excluded_items_never_come_and_pages_still_fill(shop: TestClient, path: str) -> None:
    top = [d["item_id"] for d in shop.get(path, params={"k": 6}).json()["data"]]
    excluded = top[:2] + top[4:5]
    r = shop.get(f"{path}?k=6&exclude={','.join(excluded[:2])}&exclude={excluded[2]}")
    assert r.status_code == 200, r.text
    data = [d["item_id"] for d in r.json()["data"]]
    assert len(data) == 6 and not set(data) & set(excluded)
    assert data[:3] == [top[2], top[3], top[5]]  # the ranking, minus the excluded ids
    # exclude may grow between pages (what a storefront put in the cart): still no repeat, no excluded id
    first = shop.get(path, params={"k": 4}).json()
    cart = [d["item_id"] for d in first["data"][:2]] + [top[5]]
    second = shop.get(path, params={"k": 4, "cursor": first["next_cursor"], "exclude": ",".join(cart)}).json()
    assert not {d["item_id"] for d in second["data"]} & ({d["item_id"] for d in first["data"]} | set(cart))


@pytest.mark.parametrize("path", LISTS)
def test_bad_exclude_and_bad_cursors_name_their_field(shop: TestClient, path: str) -> None:
    r = shop.get(path, params={"exclude": "i01,bad/id"})
    assert r.status_code == 422 and r.json()["detail"] == [
        {"index": 1, "field": "exclude", "reason": "'bad/id' is not an item id: must not contain '/'"}
    ]
    many = ",".join(f"x{k}" for k in range(501))
    assert errors(shop.get(path, params={"exclude": many})) == [(None, "exclude")]
    assert shop.get(path, params={"exclude": ",".join(f"x{k}" for k in range(500))}).status_code == 200
    cursor = shop.get(path, params={"k": 3}).json()["next_cursor"]
    body, mac = cursor.split(".")
    flipped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    for bad in (f"{flipped}.{mac}", "x.y", cursor[:-3]):
        assert errors(shop.get(path, params={"cursor": bad})) == [(None, "cursor")], bad
    # a cursor of another list: another subject or another filter
    other = {
        "/v1/users/u0/recommendations": ("/v1/users/u1/recommendations", {}),
        "/v1/anonymous/a0/recommendations": ("/v1/anonymous/a0/recommendations", {"exclude_seen": "false"}),
        "/v1/items/i00/similar": ("/v1/items/i01/similar", {}),
        "/v1/items/popular": ("/v1/items/popular", {"category": "A"}),
    }[path]
    wrong = shop.get(other[0], params={**other[1], "cursor": cursor})
    assert errors(wrong) == [(None, "cursor")] and "another list" in wrong.json()["detail"][0]["reason"]
    assert shop.get(path, params={"cursor": cursor, "k": 7, "explain": "true"}).status_code == 200  # k may change


@pytest.mark.parametrize("path", LISTS[:3])
def test_a_cursor_of_another_model_version_is_a_409(shop: TestClient, path: str) -> None:
    settings = services_of(shop.app).settings  # the served settings: their cursor secret filled in
    page = shop.get(path, params={"k": 3}).json()
    assert page["model_version"] is None  # no model is served here
    payload = unseal(page["next_cursor"], key=settings.cursor_key)
    older = seal({**payload, "model": "v-previous"}, key=settings.cursor_key)  # made while v-previous was served
    feedback = services_of(shop.app).feedback
    assert feedback is not None
    served = sum(c.served for c in feedback.arm_counts(None))
    r = shop.get(path, params={"k": 3, "cursor": older})
    assert r.status_code == 409 and r.json()["detail"] == [
        {"index": None, "field": "cursor", "reason": "ranking changed; start again"}
    ]
    # decided before the list was ranked: nothing is recorded as served for a refused page
    assert sum(c.served for c in feedback.arm_counts(None)) == served


def test_popular_pages_have_no_model_version_to_change(shop: TestClient) -> None:
    settings = services_of(shop.app).settings
    page = shop.get("/v1/items/popular", params={"k": 3}).json()
    payload = unseal(page["next_cursor"], key=settings.cursor_key)
    older = seal({**payload, "model": "v-previous"}, key=settings.cursor_key)
    assert shop.get("/v1/items/popular", params={"k": 3, "cursor": older}).status_code == 200


def test_pages_stop_at_the_list_depth(shop: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.pages, "MAX_DEPTH", 7)  # 500 in production: more than this catalogue holds
    got = pages(shop, "/v1/items/popular", k=3)
    assert [p["count"] for p in got] == [3, 3, 1] and got[-1]["next_cursor"] is None


@pytest.mark.parametrize("path", LISTS)
def test_listed_items_carry_the_catalogue_fields(shop: TestClient, path: str) -> None:
    data = shop.get(path, params={"k": 3}).json()["data"]
    for d in data:
        k = int(d["item_id"][1:])
        assert (d["title"], d["categories"], d["url"], d["image_url"], d["price"], d["currency"]) == (
            f"Item {k}",
            ["A" if k % 2 else "B"],
            f"/p/{k}",
            f"https://cdn.example/{k}.png",
            k + 0.5,
            "EUR",
        ), d
    first = data[0]["item_id"]
    shop.put(f"/v1/items/{first}", json={"title": "Renamed", "categories": ["C"]})  # seen at the next request
    again = next(d for d in shop.get(path, params={"k": 3}).json()["data"] if d["item_id"] == first)
    assert (again["title"], again["categories"], again["url"], again["price"]) == ("Renamed", ["C"], None, None)


# -- events naming items the catalogue does not know: GRAPHREC_UNKNOWN_ITEMS -------------------------


@pytest.fixture(params=["accept", "flag", "reject"])
def mode_client(request: pytest.FixtureRequest, settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings.model_copy(update={"unknown_items": request.param})), headers={"X-API-Key": API_KEY}
    ) as c:
        services_of(c.app).store.clear()
        c.put("/v1/items/known", json={"title": "Known"})
        yield c


def test_unknown_items_are_accepted_flagged_or_refused_by_the_setting(mode_client: TestClient) -> None:
    services = services_of(mode_client.app)
    mode, store = services.settings.unknown_items, services.store
    batch = [
        event("e1", user_id="u1", item_id="known", type="view"),
        event("e2", user_id="u1", item_id="new-1", type="click"),
        event("e3", anonymous_id="a1", item_id="new-2", type="view"),
        event("e4", user_id="u2", item_id="new-1", type="view"),
    ]
    r = mode_client.post("/v1/events", json={"events": batch})
    if mode == "reject":
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert [(d["index"], d["field"]) for d in detail] == [(1, "item_id"), (2, "item_id"), (3, "item_id")]
        assert detail[0]["reason"].startswith("unknown item 'new-1'")
        assert store.counts().interactions == 0 and store.counts().items == 1, "nothing of the batch is written"
        assert not store.user_exists(user_id="u1")
        assert mode_client.post("/v1/events", json={"events": batch[:1]}).status_code == 202  # known: fine
        return
    assert r.status_code == 202, r.text
    assert r.json()["applied"] == 4
    assert r.json()["unknown_items"] == (["new-1", "new-2"] if mode == "flag" else [])
    assert [(i.id, i.provisional) for i in store.list_items()] == [("known", False), ("new-1", True), ("new-2", True)]
    # still unknown to the catalogue while provisional; known once described
    again = mode_client.post("/v1/events", json={"events": [event("e5", user_id="u1", item_id="new-2", type="view")]})
    assert again.json()["unknown_items"] == (["new-2"] if mode == "flag" else [])
    mode_client.put("/v1/items/new-2", json={"title": "New 2"})
    later = mode_client.post("/v1/events", json={"events": [event("e6", user_id="u1", item_id="new-2", type="view")]})
    assert later.json()["unknown_items"] == []


def test_a_cursor_at_the_list_depth_still_fits_its_parameter(settings: Settings) -> None:
    served = [f"item-{k}" for k in range(api.pages.MAX_DEPTH - 2)]
    page = api.pages.ListPage(
        "0123456789abcdef",
        1,
        LeaveOut(shown=frozenset(item_digest(i) for i in served)),
        served=len(served),
        model_version="v" * 64,
        continued=True,
    )
    cursor = api.pages.close_page(settings, page, item_ids=["last"], model_version="v" * 64)
    assert cursor is not None and len(cursor) <= api.pages.MAX_CURSOR_LENGTH
    assert re.fullmatch(api.pages.CURSOR_PATTERN, cursor)
