"""Shared answers (trending, similar items, the catalogue) carry an ETag and ``Cache-Control: public``
and answer a matching ``If-None-Match`` with a bodiless 304; a changed answer gets a new ETag; a user's
list is never marked shared (issue 28, point 7).

The header is ``public, max-age=0, s-maxage=N``: a browser must ask again (a 304 while unchanged) before
it reuses a list, so an item made unavailable never comes back from its cache (issue 28, point 1; with
``max-age=30`` Chromium reused a trending list holding a sold-out item); a CDN may keep it N seconds
(``GRAPHREC_SHARED_MAX_AGE_S``, default 30)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.container import services_of
from api.json_response import _matches
from api.main import create_app
from graphrec import clock
from graphrec.config import Settings
from graphrec.graph.records import InteractionDelta
from tests.api.conftest import API_KEY

SHARED = ["/v1/items/popular", "/v1/items/i1/similar", "/v1/items", "/v1/items/i1", "/v1/categories"]


@pytest.fixture
def shop(client: TestClient) -> TestClient:
    services = services_of(client.app)
    items = [{"item_id": f"i{n}", "title": f"Item {n}", "categories": ["a" if n % 2 else "b"]} for n in range(8)]
    assert client.put("/v1/items", json={"items": items}).status_code == 200
    now = clock.now_ms()
    services.store.upsert_interactions(
        [
            InteractionDelta(f"u{u}", f"i{j}", 1.0, 1, now - 1_000, now - 1_000)
            for u in range(5)
            for j in range(8)
            if (u + j) % 3
        ]
    )
    services.catalog.refresh(services.store)
    return client


def test_a_shared_answer_is_revalidated_with_its_etag(shop: TestClient) -> None:
    for path in SHARED:
        first = shop.get(path)
        assert first.status_code == 200, (path, first.text)
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=0, s-maxage=30", path
        again = shop.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag, path
        weak_in_a_list = shop.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        assert weak_in_a_list.status_code == 304, path
        assert shop.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200, path


def test_a_changed_answer_has_a_new_etag(shop: TestClient) -> None:
    before = {path: shop.get(path).headers["etag"] for path in SHARED}
    renamed = {"item_id": "i1", "title": "Item one, renamed", "categories": ["a", "c"]}
    assert shop.put("/v1/items", json={"items": [renamed]}).status_code == 200
    for path in ("/v1/items", "/v1/items/i1", "/v1/categories"):
        changed = shop.get(path, headers={"If-None-Match": before[path]})
        assert changed.status_code == 200 and changed.headers["etag"] != before[path], path


def test_a_list_that_lost_an_unavailable_item_is_a_new_answer_for_a_browser_holding_the_old_one(
    shop: TestClient,
) -> None:
    """What a browser does with its copy (max-age=0: revalidate) meets a changed body: 200, not 304."""
    path = "/v1/items/popular"
    first = shop.get(path)
    top = first.json()["data"][0]["item_id"]
    hidden = {"item_id": top, "title": "sold out", "categories": ["a"], "available": False}
    assert shop.put("/v1/items", json={"items": [hidden]}).status_code == 200
    again = shop.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 200 and again.headers["etag"] != first.headers["etag"]
    assert top not in {d["item_id"] for d in again.json()["data"]}


def test_the_shared_cache_lifetime_is_the_setting_and_browsers_always_revalidate(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"shared_max_age_s": 600}))
    with TestClient(app, headers={"X-API-Key": API_KEY}) as c:
        assert c.get("/v1/categories").headers["cache-control"] == "public, max-age=0, s-maxage=600"


def test_a_users_list_is_never_shared(shop: TestClient) -> None:
    r = shop.get("/v1/users/u1/recommendations")
    assert r.status_code == 200
    assert "etag" not in r.headers and "public" not in r.headers.get("cache-control", "")


def test_if_none_match_parsing() -> None:
    assert _matches('"a"', '"a"') and _matches('W/"a"', '"a"') and _matches('"x", "a"', '"a"')
    assert _matches("*", '"a"')
    assert not _matches(None, '"a"') and not _matches("", '"a"') and not _matches('"b"', '"a"')
