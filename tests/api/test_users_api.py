"""/v1/users: interactions, identity merge, consent, erasure: through the real app, on both stores."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from store_reads import stored_embedding

from api.container import services_of
from graphrec import clock
from graphrec.config import Settings
from graphrec.graph.port import GraphStore
from graphrec.graph.records import InteractionDelta
from graphrec.ids import USER_ID_RESERVED

NOW = clock.now_ms()


@pytest.fixture(params=["falkordb", "neo4j"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The API over the embedded store, and the same API over a live Neo4j."""
    if request.param == "falkordb":
        return settings
    server = request.getfixturevalue("neo4j_server")
    request.getfixturevalue("neo4j_store_session")  # schema applied once
    return settings.model_copy(
        update={
            "graph_uri": server.uri,
            "graph_user": server.user,
            "graph_password": SecretStr(server.password),
            "graph_database": server.database,
        }
    )


def ev(k: int, **kw: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{k}",
        "item_id": f"i{k % 3}",
        "type": "click",
        "timestamp": NOW - 60_000 + k * 2_000,
        **kw,
    }


def test_unknown_user_is_404_and_anon_ids_are_not_user_ids(client: TestClient) -> None:
    r = client.get("/v1/users/ghost/interactions")
    assert r.status_code == 404 and r.json()["detail"] == "unknown user 'ghost'"
    r = client.get("/v1/users/anon:x/interactions")
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {
            "index": None,
            "field": "user_id",
            "reason": USER_ID_RESERVED,
        }
    ]
    r = client.get("/v1/users/u/interactions", headers={"X-API-Key": ""})
    assert r.status_code == 401 and r.json()["detail"].startswith("missing X-API-Key header")


def test_merge_moves_anonymous_history_and_is_idempotent(client: TestClient, api_store: GraphStore) -> None:
    events = [
        ev(0, anonymous_id="c1"),
        ev(1, anonymous_id="c1", type="purchase"),
        ev(2, anonymous_id="c2"),
        ev(3, user_id="alice"),
    ]
    assert client.post("/v1/events", json={"events": events}).status_code == 202
    r = client.post("/v1/users/alice/merge", json={"anonymous_ids": ["c1", "c2", "never-seen"]})
    assert r.status_code == 200
    assert r.json() == {"user_id": "alice", "merged": ["c1", "c2"], "not_found": ["never-seen"]}
    data = {d["item_id"]: d for d in client.get("/v1/users/alice/interactions").json()["data"]}
    assert {k: (v["weight"], v["count"]) for k, v in data.items()} == {
        "i0": (pytest.approx(1.0 + 1.0), 2),  # c1's click + alice's own click (e3 -> i0)
        "i1": (pytest.approx(5.0), 1),
        "i2": (pytest.approx(1.0), 1),
    }
    again = client.post("/v1/users/alice/merge", json={"anonymous_ids": ["c1"]})
    assert again.json() == {"user_id": "alice", "merged": [], "not_found": ["c1"]}
    assert not api_store.user_exists(user_id="anon:c1")
    # The tracker retrying an anonymous event after the merge is still a duplicate.
    r = client.post("/v1/events", json={"events": [ev(1, anonymous_id="c1", type="purchase")]})
    assert r.json()["duplicates"] == 1
    bad = client.post("/v1/users/alice/merge", json={"anonymous_ids": []})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "anonymous_ids"


def test_delete_erases_everything_about_the_user(client: TestClient, api_store: GraphStore) -> None:
    assert (
        client.post(
            "/v1/events",
            json={"events": [ev(k, user_id="bob") for k in range(3)] + [ev(9, anonymous_id="c9")]},
        ).status_code
        == 202
    )
    client.post("/v1/users/bob/merge", json={"anonymous_ids": ["c9"]})
    api_store.write_embeddings(label="User", ids=["bob"], vectors=np.ones((1, 4), np.float32), model_version="v1")
    r = client.delete("/v1/users/bob")
    assert r.status_code == 204 and r.content == b""
    r = client.get("/v1/users/bob/interactions")
    assert r.status_code == 404
    assert stored_embedding(api_store, "User", "bob") is None
    assert api_store.counts().interactions == 0
    # Seen-event records went too (including the merged anonymous one), but the erasure's tombstones make
    # the same events, retried from before the erasure, no-ops: they do not bring bob or c9 back.
    events = [ev(k, user_id="bob") for k in range(3)] + [ev(9, anonymous_id="c9")]
    replay = client.post("/v1/events", json={"events": events})
    assert replay.status_code == 202 and (replay.json()["applied"], replay.json()["duplicates"]) == (0, 4)
    assert not api_store.user_exists(user_id="bob") and not api_store.user_exists(user_id="anon:c9")
    assert client.delete("/v1/users/bob").status_code == 204  # idempotent


def test_consent_withdrawal_blocks_events_and_merges(client: TestClient, api_store: GraphStore) -> None:
    r = client.put("/v1/users/carol/consent", json={"consent": False})
    assert r.status_code == 200 and r.json() == {"user_id": "carol", "consent": False}
    user = api_store.get_user(user_id="carol")
    assert user is not None and user.props["consent"] is False
    assert client.post("/v1/events", json={"events": [ev(0, user_id="carol")]}).status_code == 403
    r = client.post("/v1/users/carol/merge", json={"anonymous_ids": ["c1"]})
    assert r.status_code == 403
    assert r.json()["detail"] == "user 'carol' withdrew consent; their history cannot be extended"
    bad = client.put("/v1/users/carol/consent", json={"consent": "maybe"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "consent"


# -- the id rule (graphrec.ids): ids that would collide in the embedded store's index never get in --

BAD_IDS = {
    "V ": "whitespace",
    " V": "whitespace",
    "B\t": "whitespace",
    "a\x00b": "U+0000",
    "x\x1fy": "U+001F",
    "a/b": "'/'",
    # invisible format characters (category Cf): would read as "alice" yet be another id
    "ali\u200dce": "U+200D (ZERO WIDTH JOINER)",
    "ali\u200bce": "U+200B",
    "\ufeffalice": "U+FEFF",
    "alice\u202egnp.exe": "U+202E (RIGHT-TO-LEFT OVERRIDE)",
}


@pytest.mark.parametrize("bad", list(BAD_IDS), ids=[repr(b) for b in BAD_IDS])
def test_bad_ids_are_refused_with_the_field_and_nothing_is_written(
    client: TestClient, api_store: GraphStore, bad: str
) -> None:
    good = {"event_id": "ok-1", "user_id": "V", "item_id": "i1", "type": "click", "timestamp": NOW - 1_000}
    for field in ("user_id", "item_id", "event_id", "anonymous_id"):
        event = dict(good, **{field: bad})
        if field == "anonymous_id":
            event.pop("user_id")
        r = client.post("/v1/events", json={"events": [good | {"event_id": "ok-2"}, event]})
        assert r.status_code == 422, (field, r.text)
        (err,) = r.json()["detail"]
        assert (err["index"], err["field"]) == (1, field) and BAD_IDS[bad] in err["reason"], err
    assert api_store.counts().interactions == 0, "a refused batch is not half-applied"
    quoted = quote(bad, safe="")
    for method, path, body in (
        ("GET", f"/v1/users/{quoted}/interactions", None),
        ("PUT", f"/v1/users/{quoted}/consent", {"consent": False}),
        ("DELETE", f"/v1/users/{quoted}", None),
        ("GET", f"/v1/users/{quoted}/recommendations", None),
        ("GET", f"/v1/items/{quoted}/similar", None),
    ):
        r = client.request(method, path, json=body)
        assert r.status_code in (404, 422) if "/" in bad else r.status_code == 422, (method, path, r.text)
        assert r.status_code != 500


def test_the_collision_cases_cannot_happen(client: TestClient, api_store: GraphStore) -> None:
    """The issue's cases: 'V' and 'V ' sharing events, consent bypass, silent erasure, replayed 'ev '."""
    ev = {"user_id": "V", "item_id": "i1", "type": "click"}
    assert (
        client.post("/v1/events", json={"events": [ev | {"event_id": "ev", "timestamp": NOW - 3_000}]}).status_code
        == 202
    )
    assert (
        client.post("/v1/events", json={"events": [ev | {"event_id": "ev ", "timestamp": NOW - 2_000}]}).status_code
        == 422
    )
    assert (
        client.post(
            "/v1/events", json={"events": [ev | {"user_id": "V ", "event_id": "e2", "timestamp": NOW - 1_000}]}
        ).status_code
        == 422
    )
    assert [e.item_id for e in api_store.user_interactions(user_id="V")] == ["i1"]
    assert api_store.user_interactions(user_id="V")[0].count == 1
    assert client.put("/v1/users/B%09/consent", json={"consent": False}).status_code == 422
    assert client.delete("/v1/users/C%20").status_code == 422


def test_ids_are_nfc_normalised_everywhere(client: TestClient, api_store: GraphStore) -> None:
    decomposed, composed = "cafe\u0301", "caf\u00e9"
    r = client.post(
        "/v1/events",
        json={
            "events": [
                {
                    "event_id": "n1",
                    "user_id": decomposed,
                    "item_id": decomposed,
                    "type": "click",
                    "timestamp": NOW - 1_000,
                }
            ]
        },
    )
    assert r.status_code == 202, r.text
    assert [e.item_id for e in api_store.user_interactions(user_id=composed)] == [composed]
    for spelling in (decomposed, composed):
        got = client.get(f"/v1/users/{spelling}/interactions")
        assert got.status_code == 200 and [d["item_id"] for d in got.json()["data"]] == [composed]


@pytest.mark.parametrize("index", [True, False], ids=["in-memory index", "store traversal"])
def test_no_seen_item_comes_back_for_a_user_with_1000_edges(
    client: TestClient, api_store: GraphStore, index: bool
) -> None:
    # The recent window a recommendation reads is 200 edges; the seen-filter must cover all 1,000.
    seen = [f"i{j}" for j in range(1000)]
    deltas = [
        InteractionDelta("heavy", item, 1.0, 1, NOW - 10_000_000 + j * 1_000, NOW - 10_000_000 + j * 1_000)
        for j, item in enumerate(seen)
    ]
    # Co-users of the heavy user's most recent items also touched old seen items and unseen ones,
    # so the traversal reaches both; only the unseen may be recommended.
    for j in range(200):
        for item in (f"i{980 + j % 20}", f"i{(j * 7) % 800}", f"i{1000 + j % 150}"):
            deltas.append(InteractionDelta(f"o{j}", item, 2.0, 1, NOW - 5_000, NOW - 5_000))
    api_store.upsert_interactions(deltas)
    cograph = services_of(client.app).cograph
    if index:
        cograph.refresh(api_store)
    else:
        cograph.index = None
    r = client.get("/v1/users/heavy/recommendations", params={"k": 100, "exclude_seen": "true"})
    assert r.status_code == 200, r.text
    got = [d["item_id"] for d in r.json()["data"]]
    assert got and not set(got) & set(seen), sorted(set(got) & set(seen))[:10]
    assert set(got) <= {f"i{1000 + j}" for j in range(150)}
    assert api_store.user_item_ids(user_id="heavy") == frozenset(seen)


def test_every_route_that_takes_a_user_id_refuses_the_anonymous_namespace_with_one_reason(client: TestClient) -> None:
    """One rule, one message: a path parameter, an identify body and an event all name the field."""
    answers = [
        ("user_id", client.get("/v1/users/anon:x/recommendations")),
        ("user_id", client.get("/v1/users/anon:x/interactions")),
        ("user_id", client.post("/v1/identify", json={"anonymous_id": "v1", "user_id": "anon:x"})),
        ("user_id", client.post("/v1/events", json={"events": [ev(1, user_id="anon:x")]})),
    ]
    for field, r in answers:
        assert r.status_code in (400, 422), r.text
        reasons = {(e["field"], e["reason"]) for e in r.json()["detail"]}
        assert (field, USER_ID_RESERVED) in reasons, r.text
