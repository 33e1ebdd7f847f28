"""/v1/users: interactions, identity merge, consent, erasure: through the real app, on both stores."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from graphrec.config import Settings
from graphrec.graph.port import GraphStore

NOW = int(time.time() * 1000)


@pytest.fixture(params=["falkordb", "neo4j"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """The API over the embedded store, and the same API over a live Neo4j."""
    if request.param == "falkordb":
        return settings
    server = request.getfixturevalue("neo4j_server")
    request.getfixturevalue("neo4j_store_session")  # schema applied once
    return settings.model_copy(update={"graph_uri": server.uri, "graph_user": server.user,
                                       "graph_password": SecretStr(server.password),
                                       "graph_database": server.database})


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
            "reason": "user ids may not start with 'anon:' (reserved for anonymous visitors)",
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
    api_store.write_embeddings(
        label="User", ids=["bob"], vectors=np.ones((1, 4), np.float32), model_version="v1"
    )
    r = client.delete("/v1/users/bob")
    assert r.status_code == 204 and r.content == b""
    r = client.get("/v1/users/bob/interactions")
    assert r.status_code == 404
    assert api_store.get_embedding(label="User", node_id="bob") is None
    assert api_store.counts().interactions == 0
    # Seen-event records went too (including the merged anonymous ones): nothing remains to match.
    assert api_store.erase_event_ids(user_id="bob") == 0
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
