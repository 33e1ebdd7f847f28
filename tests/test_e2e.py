"""End to end: generate -> import -> train -> publish (the demo, ``--no-serve``) -> serve -> recommend.

The whole flow runs twice: on the embedded FalkorDB and on a live Neo4j (``GRAPHREC_GRAPH_URI=bolt://``).

Then a brand-new user posts events and gets personalised, explained recommendations without
retraining; publishing a new version while a client hammers the API swaps models with no errors.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator

import pytest
from deadlines import Threads, wait_until
from fastapi.testclient import TestClient

from api.container import services_of
from api.main import create_app
from graphrec import clock, demo
from graphrec.config import Settings
from graphrec.graph.errors import StoreUnavailable
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.port import GraphStore
from graphrec.model.pipeline import current_version, publish

KEY = "e2e-key"


@pytest.fixture(scope="module", params=["falkordb", "neo4j"])
def published(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, starts_processes: None
) -> Iterator[Settings]:
    root = tmp_path_factory.mktemp(f"e2e-{request.param}")
    env = {"GRAPHREC_DATA_DIR": str(root), "GRAPHREC_API_KEYS": KEY}
    holder: GraphStore
    if request.param == "falkordb":
        holder = FalkorDBStore.embedded(root / "store", graph="e2e", die_with_parent=True)
        env |= {"GRAPHREC_GRAPH_URI": f"embedded:{root / 'store'}", "GRAPHREC_FALKORDB_GRAPH": "e2e"}
    else:
        server = request.getfixturevalue("neo4j_server")
        holder = request.getfixturevalue("neo4j_store_session")
        holder.clear()
        env |= {
            "GRAPHREC_GRAPH_URI": server.uri,
            "GRAPHREC_GRAPH_USER": server.user,
            "GRAPHREC_GRAPH_PASSWORD": server.password,
            "GRAPHREC_GRAPH_DATABASE": server.database,
        }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        demo.main(["--interactions", "6000", "--epochs", "5", "--no-serve"])
        # history_timeout_s: a cold Neo4j on a busy 2-core CI box can take longer than the production
        # default to answer; this flow is about the answers (the timeout has its own tests).
        settings = Settings(
            model_poll_s=0.2,
            rate_limit_per_s=10_000,
            rate_limit_burst=10_000,
            events_max_per_minute=10_000,
            history_timeout_s=10.0,
        )
    yield settings
    if request.param == "falkordb":
        holder.close()
    else:
        holder.clear()


@pytest.fixture
def client(published: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(published), headers={"X-API-Key": KEY}) as c:
        yield c


def known_user_and_items(client: TestClient) -> tuple[str, list[str]]:
    state = services_of(client.app).models.state
    assert state is not None
    art = state.artifact
    return str(art.user_ids[0]), [str(i) for i in art.item_ids[:40].tolist()]


def test_recommendations_for_a_known_user(client: TestClient, published: Settings) -> None:
    assert (published.models_path / current_version(published.models_path) / "blend.json").exists()
    user, _ = known_user_and_items(client)
    r = client.get(f"/v1/users/{user}/recommendations", params={"k": 10, "explain": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == current_version(published.models_path)
    assert body["degraded"] is False and body["cold_start"] is False
    assert 0 < body["count"] <= 10 and body["count"] == len(body["data"])
    seen = {e["item_id"] for e in client.get(f"/v1/users/{user}/interactions").json()["data"]}
    assert not seen & {d["item_id"] for d in body["data"]}
    assert all(d["source"] in {"embedding", "graph", "both"} and d["reasons"] for d in body["data"])
    scores = [d["score"] for d in body["data"]]
    assert scores == sorted(scores, reverse=True)
    assert r.headers["X-Request-ID"]
    model = client.get("/v1/model").json()
    assert model["loaded"] and model["version"] == body["model_version"]
    assert model["blend"]["source"] == "tuned" and "validation_recall@20" in model["metrics"]


def test_new_user_gets_personalised_explained_results_after_events(client: TestClient) -> None:
    _, items = known_user_and_items(client)
    before = client.get("/v1/users/newcomer/recommendations", params={"k": 5})
    assert before.status_code == 200
    assert before.json()["cold_start"] is True and {d["source"] for d in before.json()["data"]} <= {"popular"}
    now = clock.now_ms()
    picked = items[:4]
    events = [
        {"event_id": f"n{j}", "user_id": "newcomer", "item_id": it, "type": "purchase", "timestamp": now - 10_000 + j}
        for j, it in enumerate(picked)
    ]
    assert client.post("/v1/events", json={"events": events}).status_code == 202
    r = client.get("/v1/users/newcomer/recommendations", params={"k": 10, "explain": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cold_start"] is False and body["personalised_from"] == "inductive"
    assert body["count"] > 0 and not set(picked) & {d["item_id"] for d in body["data"]}
    reasons = " ".join(x for d in body["data"] for x in d["reasons"])
    assert "you viewed" in reasons or "also interacted with this" in reasons


def test_anonymous_session_moves_from_popular_to_personalised(client: TestClient) -> None:
    _, items = known_user_and_items(client)
    assert client.get("/v1/anonymous/cookie-1/recommendations").json()["cold_start"] is True
    now = clock.now_ms()
    events = [
        {"event_id": f"a{j}", "anonymous_id": "cookie-1", "item_id": it, "type": "click", "timestamp": now - 5_000 + j}
        for j, it in enumerate(items[5:8])
    ]
    assert client.post("/v1/events", json={"events": events}).status_code == 202
    body = client.get("/v1/anonymous/cookie-1/recommendations").json()
    assert body["cold_start"] is False and body["user_id"] == "cookie-1" and body["count"] > 0


def copy_of_current_version(published: Settings, suffix: str) -> str:
    """A new version holding the current one's files (a stand-in for a retrained model)."""
    old = current_version(published.models_path)
    new = f"{old}-{suffix}"
    shutil.copytree(published.models_path / old, published.models_path / new)
    manifest = published.models_path / new / "manifest.json"
    manifest.write_text(manifest.read_text().replace(f'"version": "{old}"', f'"version": "{new}"'))
    return new


def test_pages_under_a_served_model_repeat_nothing_until_a_new_version_is_published(
    client: TestClient, published: Settings
) -> None:
    user, items = known_user_and_items(client)
    path = f"/v1/users/{user}/recommendations"
    first = client.get(path, params={"k": 10}).json()
    version = first["model_version"]
    assert version is not None and first["next_cursor"] is not None
    excluded = [first["data"][0]["item_id"], items[0]]  # a storefront may exclude what it showed, too
    served, cursor = [d["item_id"] for d in first["data"]], first["next_cursor"]
    for _ in range(3):
        page = client.get(path, params={"k": 10, "cursor": cursor, "exclude": excluded}).json()
        got = [d["item_id"] for d in page["data"]]
        assert len(got) == 10 and page["model_version"] == version
        assert not set(got) & (set(served) | set(excluded))
        served, cursor = served + got, page["next_cursor"]
    similar = client.get(f"/v1/items/{items[1]}/similar", params={"k": 5}).json()
    more = client.get(f"/v1/items/{items[1]}/similar", params={"k": 5, "cursor": similar["next_cursor"]}).json()
    assert more["count"] == 5 and not {d["item_id"] for d in more["data"]} & {d["item_id"] for d in similar["data"]}
    new = copy_of_current_version(published, "paged")
    publish(
        services_of(client.app).store,
        models_path=published.models_path,
        version=new,
        half_life_days=published.half_life_days,
    )
    wait_until(
        lambda: client.get("/v1/model").json()["version"] == new, what=f"the API to load version {new}", interval_s=0.1
    )
    r = client.get(path, params={"k": 10, "cursor": cursor})
    assert r.status_code == 409 and r.json()["detail"][0]["field"] == "cursor", r.text
    assert client.get(path, params={"k": 10}).json()["model_version"] == new  # starting again works


def test_hot_swap_while_hammering(client: TestClient, published: Settings) -> None:
    user, _ = known_user_and_items(client)
    new = copy_of_current_version(published, "b")
    errors: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            r = client.get(f"/v1/users/{user}/recommendations", params={"k": 5})
            if r.status_code != 200:
                errors.append(r.status_code)
            else:
                versions.add(r.json()["model_version"])

    threads = Threads()
    for k in range(3):
        threads.start(hammer, name=f"hammer-{k}")
    try:
        publish(
            services_of(client.app).store,
            models_path=published.models_path,
            version=new,
            half_life_days=published.half_life_days,
        )
        wait_until(
            lambda: client.get("/v1/model").json()["version"] == new,
            what=f"the API to load version {new}",
            interval_s=0.1,
        )
        # the hammering clients get answers from the new version too (not a fixed pause that a loaded
        # machine may not fill with a single request)
        wait_until(
            lambda: new in versions, what=f"a hammering client served by version {new}", detail=lambda: sorted(versions)
        )
    finally:
        stop.set()
        threads.join()
    assert errors == []
    assert client.get("/v1/model").json()["version"] == new
    assert new in versions


def test_ops_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["store"] is True
    client.get("/v1/items/popular")
    text = client.get("/metrics").text
    assert "graphrec_request_seconds_bucket" in text and 'items/popular"' in text


def test_store_outage_degrades_to_embedding_only(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    user, _ = known_user_and_items(client)
    services = services_of(client.app)

    def down(**_: object) -> None:
        raise StoreUnavailable("store down")

    async def down_async(**_: object) -> None:
        raise StoreUnavailable("store down")

    monkeypatch.setattr(services.history, "user_history", down_async)
    monkeypatch.setattr(services.store, "co_interaction_candidates_for_user", down)
    r = client.get(f"/v1/users/{user}/recommendations")
    assert r.status_code == 200
    assert r.json()["degraded"] is True and {d["source"] for d in r.json()["data"]} == {"embedding"}
    monkeypatch.undo()
    # The failed read marked the store down; the watchdog's next ping (every second) clears it.
    wait_until(lambda: client.get("/readyz").status_code == 200, what="the watchdog to find the store up again")
    assert client.get(f"/v1/users/{user}/recommendations").json()["degraded"] is False
