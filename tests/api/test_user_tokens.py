"""Issue 25, point 1: a browser key acts only for its own visitor.

Each attack below is replayed with the publishable key alone (public: it sits in every page) against
the real app over the embedded store; each worked before user tokens existed. A request that names a
``user_id`` with a publishable key needs that user's token (``X-User-Token``, or ``?user_token=`` for
sendBeacon); a secret key keeps full access.
"""

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
from graphrec import clock
from graphrec.config import Settings
from graphrec.graph.records import InteractionDelta, ItemRecord
from graphrec.user_tokens import mint_user_token

PK = "pk_test_shop"
ORIGIN = "https://shop.example"
TOKEN_SECRET = "test-user-token-secret-0123456789-abcdef"
PAGE = {"X-API-Key": PK, "Origin": ORIGIN}


def token(user_id: str, *, ttl_s: int = 3600, issued: int | None = None, secret: str = TOKEN_SECRET) -> str:
    return mint_user_token(secret, user_id, ttl_s, now=int(time.time()) if issued is None else issued)


def as_user(user_id: str, **kw: int) -> dict[str, str]:
    """The page's headers once the site's server minted it a token for ``user_id``."""
    return {**PAGE, "X-User-Token": token(user_id, **kw)}


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    """The API with a secret key, a publishable key and a user-token secret; the victim has a history."""
    s = settings.model_copy(
        update={"publishable_keys": PK, "publishable_origins": ORIGIN, "user_token_secret": SecretStr(TOKEN_SECRET)}
    )
    with TestClient(create_app(s)) as c:
        services = services_of(c.app)
        store = services.store
        store.clear()
        now = clock.now_ms()
        store.upsert_items([ItemRecord(f"i{j}", title=f"Item {j}", categories=("books",)) for j in range(8)])
        store.upsert_interactions(
            [
                InteractionDelta(u, f"i{j}", 1.0, 1, now - 1000, now - 1000)
                for u in ("victim", "other")
                for j in range(8)
                if (j % 2) == (u == "victim")
            ]
        )
        services.catalog.refresh(store)
        yield c


@pytest.fixture
def secret(settings: Settings) -> dict[str, str]:
    return {"X-API-Key": sorted(settings.api_key_set)[0]}


def items_of(client: TestClient, user_id: str) -> list[str]:
    return sorted(e.item_id for e in services_of(client.app).store.user_interactions(user_id=user_id))


def consent_of(client: TestClient, user_id: str) -> object:
    user = services_of(client.app).store.get_user(user_id=user_id)
    return None if user is None else user.props.get("consent")


def test_reading_another_users_recommendations_with_explain_needs_their_token(web: TestClient) -> None:
    path, params = "/v1/users/victim/recommendations", {"explain": "true", "k": 5}
    r = web.get(path, params=params, headers=PAGE)
    assert r.status_code == 401, r.text
    assert r.json()["detail"].startswith("user token (X-User-Token) missing for user_id 'victim'")
    assert r.headers["WWW-Authenticate"] == "UserToken"
    other = web.get(path, params=params, headers=as_user("attacker"))
    assert other.status_code == 403
    assert other.json()["detail"].startswith("user token (X-User-Token) is for another user, not user_id 'victim'")
    own = web.get(path, params=params, headers=as_user("victim"))
    assert own.status_code == 200 and own.json()["user_id"] == "victim" and own.json()["count"] > 0
    # what a page may do without a token: anonymous and profile-free lists
    assert web.get("/v1/anonymous/a-1/recommendations", headers=PAGE).status_code == 200
    assert web.get("/v1/items/popular", headers=PAGE).status_code == 200
    assert web.get("/v1/items/i1/similar", headers=PAGE).status_code == 200
    assert web.get("/v1/items", headers=PAGE).status_code == 200


def test_identify_into_a_chosen_account_needs_that_accounts_token(web: TestClient) -> None:
    assert (
        web.post(
            "/v1/events",
            json={"events": [event("j1", anonymous_id="a-9", item_id="i6", type="add_to_cart")]},
            headers=PAGE,
        ).status_code
        == 202
    )
    body = {"anonymous_id": "a-9", "user_id": "victim"}
    before = items_of(web, "victim")
    r = web.post("/v1/identify", json=body, headers=PAGE)
    assert r.status_code == 401 and "user token (X-User-Token) missing for user_id 'victim'" in r.json()["detail"]
    wrong = web.post("/v1/identify", json=body, headers=as_user("attacker"))
    assert wrong.status_code == 403 and "is for another user, not user_id 'victim'" in wrong.json()["detail"]
    assert items_of(web, "victim") == before and items_of(web, "anon:a-9") == ["i6"]  # nothing moved
    ok = web.post("/v1/identify", json=body, headers=as_user("victim"))
    assert ok.status_code == 200 and ok.json() == {"user_id": "victim", "anonymous_id": "a-9", "merged": True}
    assert items_of(web, "victim") == sorted([*before, "i6"])


def test_withdrawing_another_users_consent_needs_their_token(web: TestClient, secret: dict[str, str]) -> None:
    body = {"user_id": "victim", "consent": False}
    r = web.post("/v1/consent", json=body, headers=PAGE)
    assert r.status_code == 401 and "missing for user_id 'victim'" in r.json()["detail"]
    wrong = web.post("/v1/consent", json=body, headers=as_user("attacker"))
    assert wrong.status_code == 403 and "not user_id 'victim'" in wrong.json()["detail"]
    assert consent_of(web, "victim") is None
    # the site's own events for the victim still go in
    site = web.post(
        "/v1/events", json={"events": [event("c1", user_id="victim", item_id="i1", type="view")]}, headers=secret
    )
    assert site.status_code == 202 and site.json()["applied"] == 1
    # the user themself may withdraw (with their token), but not grant: that stays the server's call
    grant = web.post("/v1/consent", json={"user_id": "victim", "consent": True}, headers=as_user("victim"))
    assert grant.status_code == 403 and "may only withdraw consent" in grant.json()["detail"]
    own = web.post("/v1/consent", json=body, headers=as_user("victim"))
    assert own.status_code == 200 and consent_of(web, "victim") is False
    # an anonymous visitor may still opt out with the key alone
    anon = web.post("/v1/consent", json={"anonymous_id": "a-5", "consent": False}, headers=PAGE)
    assert anon.status_code == 200 and consent_of(web, "anon:a-5") is False


def test_writing_events_as_a_named_user_needs_their_token(web: TestClient) -> None:
    before = items_of(web, "victim")
    forged = {
        "events": [
            event("w0", anonymous_id="a-1", item_id="i0", type="view"),
            event("w1", user_id="victim", item_id="i0", type="purchase"),
        ]
    }
    r = web.post("/v1/events", json=forged, headers=PAGE)
    assert r.status_code == 401, r.text
    assert r.json()["detail"].startswith("event 1: user token (X-User-Token) missing for user_id 'victim'")
    # a batch mixing the token's user with another user's events is refused whole, with index and field
    mixed = {
        "events": [
            event("w2", user_id="attacker", item_id="i2", type="view"),
            event("w3", user_id="victim", item_id="i2", type="purchase"),
            event("w4", anonymous_id="a-1", item_id="i2", type="view"),
        ]
    }
    refused = web.post("/v1/events", json=mixed, headers=as_user("attacker"))
    assert refused.status_code == 403, refused.text
    [problem] = refused.json()["detail"]
    assert problem["index"] == 1 and problem["field"] == "user_id"
    assert problem["reason"].startswith("user token (X-User-Token) is for another user, not user_id 'victim'")
    assert items_of(web, "victim") == before and items_of(web, "attacker") == []  # nothing written
    assert not services_of(web.app).store.user_exists(user_id="anon:a-1")
    own = web.post("/v1/events", json={"events": mixed["events"][::2]}, headers=as_user("attacker"))
    assert own.status_code == 202 and own.json()["applied"] == 2


def test_a_beacon_carries_the_user_token_in_the_url(web: TestClient) -> None:
    """sendBeacon cannot set headers: the token rides in ?user_token= beside ?key=."""
    body = json.dumps({"events": [event("b1", user_id="victim", item_id="i2", type="view")]})
    beacon = {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN}
    bare = web.post(f"/v1/events?key={PK}", content=body, headers=beacon)
    assert bare.status_code == 401 and "missing for user_id 'victim'" in bare.json()["detail"]
    ok = web.post(f"/v1/events?key={PK}&user_token={token('victim')}", content=body, headers=beacon)
    assert ok.status_code == 202 and ok.json()["applied"] == 1


def test_a_visitor_who_opted_out_is_not_merged(web: TestClient, secret: dict[str, str]) -> None:
    assert (
        web.post(
            "/v1/events", json={"events": [event("o1", anonymous_id="a-7", item_id="i2", type="view")]}, headers=PAGE
        ).status_code
        == 202
    )
    assert web.post("/v1/consent", json={"anonymous_id": "a-7", "consent": False}, headers=PAGE).status_code == 200
    r = web.post("/v1/identify", json={"anonymous_id": "a-7", "user_id": "victim"}, headers=as_user("victim"))
    assert r.status_code == 403
    assert r.json()["detail"] == (
        "anonymous visitor 'a-7' withdrew consent; their history cannot be merged into an account"
    )
    merge = web.post("/v1/users/victim/merge", json={"anonymous_ids": ["a-7"]}, headers=secret)
    assert merge.status_code == 403 and "anonymous visitor 'a-7' withdrew consent" in merge.json()["detail"]
    assert "i2" not in items_of(web, "victim") and items_of(web, "anon:a-7") == ["i2"]


def test_an_expired_token_is_refused(web: TestClient) -> None:
    stale = as_user("victim", ttl_s=3600, issued=int(time.time()) - 3601)
    r = web.get("/v1/users/victim/recommendations", headers=stale)
    assert r.status_code == 401 and r.json()["detail"].startswith("user token (X-User-Token) expired")
    ev = web.post(
        "/v1/events", json={"events": [event("x1", user_id="victim", item_id="i1", type="view")]}, headers=stale
    )
    assert ev.status_code == 401 and ev.json()["detail"].startswith("event 0: user token (X-User-Token) expired")


def test_a_token_for_user_a_does_not_act_for_user_b(web: TestClient) -> None:
    for method, path, body in (
        ("GET", "/v1/users/victim/recommendations", None),
        ("POST", "/v1/identify", {"anonymous_id": "a-2", "user_id": "victim"}),
        ("POST", "/v1/consent", {"user_id": "victim", "consent": False}),
        ("POST", "/v1/impressions", {"recommendation_id": "r1", "user_id": "victim", "item_ids": ["i1"]}),
    ):
        r = web.request(method, path, json=body, headers=as_user("other"))
        assert r.status_code == 403, (path, r.text)
        assert r.json()["detail"].startswith("user token (X-User-Token) is for another user, not user_id 'victim'")


def test_a_tampered_token_or_one_from_another_secret_is_refused(web: TestClient) -> None:
    version, payload, sig = token("attacker").split(".")
    forged = token("victim", secret="a-guessed-secret-that-is-long-enough-12345").split(".")
    for bad in (f"{version}.{forged[1]}.{sig}", ".".join(forged), "v2." + payload + "." + sig, "garbage"):
        r = web.get("/v1/users/victim/recommendations", headers={**PAGE, "X-User-Token": bad})
        assert r.status_code == 401, (bad, r.text)
        assert r.json()["detail"].startswith("user token (X-User-Token) ")
    assert (
        "invalid signature"
        in web.get("/v1/users/victim/recommendations", headers={**PAGE, "X-User-Token": ".".join(forged)}).json()[
            "detail"
        ]
    )


def test_a_secret_key_needs_no_token(web: TestClient, secret: dict[str, str]) -> None:
    assert web.get("/v1/users/victim/recommendations", params={"explain": "true"}, headers=secret).status_code == 200
    ev = web.post(
        "/v1/events",
        json={
            "events": [
                event("s1", user_id="victim", item_id="i1", type="view"),
                event("s2", anonymous_id="a-3", item_id="i5", type="view"),
            ]
        },
        headers=secret,
    )
    assert ev.status_code == 202 and ev.json()["applied"] == 2
    ident = web.post("/v1/identify", json={"anonymous_id": "a-3", "user_id": "victim"}, headers=secret)
    assert ident.status_code == 200 and ident.json()["merged"] is True
    assert web.post("/v1/consent", json={"user_id": "victim", "consent": False}, headers=secret).status_code == 200
    assert web.post("/v1/consent", json={"user_id": "victim", "consent": True}, headers=secret).status_code == 200


def test_without_a_token_secret_a_publishable_key_names_no_user(settings: Settings) -> None:
    s = settings.model_copy(update={"publishable_keys": PK, "publishable_origins": ORIGIN})
    with TestClient(create_app(s)) as c:
        services_of(c.app).store.clear()
        r = c.post(
            "/v1/identify",
            json={"anonymous_id": "a-1", "user_id": "victim"},
            headers={**PAGE, "X-User-Token": token("victim")},
        )
        assert r.status_code == 403
        assert r.json()["detail"] == (
            "a publishable key may not name user_id 'victim': this server verifies no user "
            "tokens (GRAPHREC_USER_TOKEN_SECRET is unset); call from your server with a "
            "secret key"
        )
        anon = c.post(
            "/v1/events", json={"events": [event("n1", anonymous_id="a-1", item_id="i1", type="view")]}, headers=PAGE
        )
        assert anon.status_code == 202
