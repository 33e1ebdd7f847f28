"""Two kinds of key (issue 15): a publishable key ships in a web page, so it may send events (also as
a sendBeacon: key in the URL, text/plain body), identify a visitor, opt out and read
recommendations, and nothing else; a secret key may do everything and never travels in a URL.
Whatever names a user_id with a publishable key carries that user's token (issue 25; the attacks
without one are in test_user_tokens.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.container import services_of
from api.main import create_app
from factories import event
from graphrec.config import Settings
from graphrec.demo import demo_origins
from graphrec.user_tokens import mint_user_token

PK = "pk_test_shop"
ORIGIN = "https://shop.example"
TOKEN_SECRET = "publishable-test-token-secret-0123456789"


def user_token(user_id: str) -> str:
    """What the site's server mints for its signed-in user."""
    return mint_user_token(TOKEN_SECRET, user_id, 600, now=int(time.time()))


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    """The API with a secret key and a publishable key bound to one origin; no default headers."""
    with TestClient(
        create_app(
            settings.model_copy(
                update={
                    "publishable_keys": PK,
                    "publishable_origins": ORIGIN,
                    "user_token_secret": SecretStr(TOKEN_SECRET),
                }
            )
        )
    ) as c:
        services_of(c.app).store.clear()
        yield c


def beacon(
    client: TestClient,
    events: list[dict[str, object]],
    token: str | None = None,  # type: ignore[no-untyped-def]
    **headers: str,
):
    """What navigator.sendBeacon sends: the key (and a signed-in user's token) in the URL, JSON as text/plain."""
    query = f"key={PK}" + (f"&user_token={token}" if token is not None else "")
    return client.post(
        f"/v1/events?{query}",
        content=json.dumps({"events": events}),
        headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN, **headers},
    )


def test_a_beacon_is_ingested_exactly_once(web: TestClient) -> None:
    batch = [
        event("b1", anonymous_id="a-1", item_id="i1", type="view"),
        event("b2", anonymous_id="a-1", item_id="i1", type="dwell", value=12.5),
    ]
    first = beacon(web, batch)
    assert first.status_code == 202, first.text
    assert first.json()["applied"] == 2
    again = beacon(web, batch)  # the tracker's retry queue resends with the same event ids
    assert again.status_code == 202 and again.json()["applied"] == 0 and again.json()["duplicates"] == 2
    edges = services_of(web.app).store.user_interactions(user_id="anon:a-1")
    assert [(e.item_id, e.count) for e in edges] == [("i1", 2)]


def test_a_publishable_key_may_not_reach_server_routes(web: TestClient) -> None:
    pk = {"X-API-Key": PK}
    assert beacon(web, [event("e1", user_id="u1", item_id="i1", type="purchase")], user_token("u1")).status_code == 202
    assert web.get("/v1/users/u1/recommendations", headers={**pk, "X-User-Token": user_token("u1")}).status_code == 200
    for method, path, body in (
        ("GET", "/v1/users/u1/interactions", None),
        ("POST", "/v1/users/u1/merge", {"anonymous_ids": ["a-1"]}),
        ("PUT", "/v1/users/u1/consent", {"consent": False}),
        ("GET", "/v1/users/u1/profile", None),
        ("GET", "/v1/anonymous/a-1/profile", None),
        ("GET", "/v1/users/u1/next", None),
        ("GET", "/v1/anonymous/a-1/next", None),
        ("DELETE", "/v1/users/u1", None),
    ):
        r = web.request(method, path, headers={**pk, "X-User-Token": user_token("u1")}, json=body)
        assert r.status_code == 403, (method, path, r.text)  # a user token does not open server routes
        assert "publishable key may not use this route" in r.json()["detail"]
    assert services_of(web.app).store.user_exists(user_id="u1")  # nothing was erased


def test_a_publishable_key_reads_the_catalogue_but_may_not_write_it(web: TestClient, settings: Settings) -> None:
    secret = {"X-API-Key": next(iter(settings.api_key_set))}
    mug = {"title": "Mug", "categories": ["Kitchen"], "price": 9.5, "currency": "EUR"}
    assert web.put("/v1/items/mug", json=mug, headers=secret).status_code == 200
    pk = {"X-API-Key": PK, "Origin": ORIGIN}
    for method, path, body in (
        ("PUT", "/v1/items/mug", {"title": "Free mug", "price": 0}),
        ("PUT", "/v1/items", {"items": [{"item_id": "mug", "price": 0}]}),
    ):
        r = web.request(method, path, headers=pk, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert "publishable key may not use this route" in r.json()["detail"]
    assert web.get("/v1/items/mug", headers=pk).json()["price"] == 9.5  # the price stands
    assert web.get("/v1/items", headers=pk).json()["count"] == 1
    assert web.get("/v1/categories", headers=pk).json()["data"] == [{"name": "Kitchen", "items": 1}]
    assert web.put("/v1/items/mug", json=mug).status_code == 401  # no key at all


def test_a_publishable_key_is_bound_to_its_origins_and_a_secret_key_never_rides_in_a_url(
    web: TestClient, settings: Settings
) -> None:
    evil = beacon(web, [event("e1", anonymous_id="a-2", item_id="i1", type="view")], Origin="https://evil.example")
    assert evil.status_code == 403 and "may not be used from origin 'https://evil.example'" in evil.json()["detail"]
    secret = next(iter(settings.api_key_set))
    leaked = web.post(
        f"/v1/events?key={secret}", json={"events": [event("e2", anonymous_id="a-2", item_id="i1", type="view")]}
    )
    assert leaked.status_code == 401 and "never in a URL" in leaked.json()["detail"]
    wrong = web.post(
        "/v1/events?key=pk_guess", json={"events": [event("e3", anonymous_id="a-2", item_id="i1", type="view")]}
    )
    assert wrong.status_code == 401
    assert not services_of(web.app).store.user_exists(user_id="anon:a-2")


def test_identify_moves_the_visitors_history_onto_the_user(web: TestClient, settings: Settings) -> None:
    beacon(web, [event("e1", anonymous_id="a-3", item_id="i7", type="add_to_cart")])
    pk = {"X-API-Key": PK, "Origin": ORIGIN, "X-User-Token": user_token("u3")}
    r = web.post("/v1/identify", json={"anonymous_id": "a-3", "user_id": "u3"}, headers=pk)
    assert r.status_code == 200 and r.json() == {"user_id": "u3", "anonymous_id": "a-3", "merged": True}
    again = web.post("/v1/identify", json={"anonymous_id": "a-3", "user_id": "u3"}, headers=pk)
    assert again.status_code == 200 and again.json()["merged"] is False  # idempotent
    secret = {"X-API-Key": next(iter(settings.api_key_set))}
    items = web.get("/v1/users/u3/interactions", headers=secret).json()["data"]
    assert [i["item_id"] for i in items] == ["i7"]
    bad = web.post("/v1/identify", json={"anonymous_id": "a-3", "user_id": "anon:x"}, headers=pk)
    assert bad.status_code == 422


def test_a_page_may_opt_a_visitor_out_but_not_in(web: TestClient, settings: Settings) -> None:
    pk = {"X-API-Key": PK, "Origin": ORIGIN}
    out = web.post("/v1/consent", json={"anonymous_id": "a-4", "consent": False}, headers=pk)
    assert out.status_code == 200 and out.json()["consent"] is False
    refused = beacon(web, [event("e1", anonymous_id="a-4", item_id="i1", type="view")])
    assert refused.status_code == 403  # the opt-out holds on the server, whatever the page does later
    opt_in = web.post("/v1/consent", json={"anonymous_id": "a-4", "consent": True}, headers=pk)
    assert opt_in.status_code == 403 and "may only withdraw consent" in opt_in.json()["detail"]
    secret = {"X-API-Key": next(iter(settings.api_key_set))}
    assert web.post("/v1/consent", json={"anonymous_id": "a-4", "consent": True}, headers=secret).status_code == 200
    assert beacon(web, [event("e2", anonymous_id="a-4", item_id="i1", type="view")]).status_code == 202
    both = web.post("/v1/consent", json={"anonymous_id": "a-4", "user_id": "u4", "consent": False}, headers=pk)
    assert both.status_code == 422


def test_publishable_keys_must_look_publishable() -> None:
    with pytest.raises(ValueError, match="start with 'pk_'"):
        Settings(publishable_keys="sk_live_1")


def test_a_publishable_key_needs_its_origins_named(settings: Settings) -> None:
    """No origins used to mean any origin: a forgotten setting opened the key to every site."""
    with pytest.raises(ValueError, match="GRAPHREC_PUBLISHABLE_ORIGINS is empty: name the origins"):
        Settings(publishable_keys=PK)
    # settings built without their validators (model_copy) are refused when the app starts
    app = create_app(settings.model_copy(update={"publishable_keys": PK, "publishable_origins": ""}))
    with pytest.raises(RuntimeError, match="GRAPHREC_PUBLISHABLE_ORIGINS is empty"), TestClient(app):
        pass
    # '*' is allowed when said
    assert Settings(publishable_keys=PK, publishable_origins="*").publishable_origin_list == ["*"]
    with TestClient(create_app(settings.model_copy(update={"publishable_keys": PK, "publishable_origins": "*"}))) as c:
        assert c.get("/v1/items/popular", headers={"X-API-Key": PK, "Origin": "https://any.example"}).status_code == 200


def test_the_demo_names_its_own_origins() -> None:
    assert demo_origins("127.0.0.1", 8000) == ["http://127.0.0.1:8000", "http://localhost:8000"]
    assert demo_origins("0.0.0.0", 8080) == ["http://localhost:8080", "http://127.0.0.1:8080"]
    assert demo_origins("shop.lan", 80) == ["http://shop.lan"]
