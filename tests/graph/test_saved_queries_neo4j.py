"""Every saved Browser query (graph/queries/) executed on a live Neo4j, its answers checked.

The fixture graph is small but complete: categories, an unconnected item, an item nobody touched, a
bot-like user, a trained and published model (embeddings on the nodes), and the API serving it over
the same Neo4j. Query 03 must give the API's graph score and evidence for each graph-sourced item;
query 04 the API's embedding neighbours with the same cosine (the one item similarity everywhere).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from neo4j import GraphDatabase
from pydantic import SecretStr
from saved_queries import FILES, by_name, example_params, parts

from api.main import create_app
from graphrec import clock
from graphrec.config import Settings
from graphrec.export import ExportConfig
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.graph.records import InteractionDelta, ItemRecord, SegmentRecord
from graphrec.model.artifact import ModelArtifact
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.pipeline import PipelineConfig, current_version, publish, train

KEY = "saved-queries-key"
N_USERS, N_ITEMS = 14, 12
CATEGORIES = {
    f"i{k}": (("Comedy",) if k % 3 == 0 else ("Drama", "Comedy") if k % 3 == 1 else ("Action",))
    for k in range(N_ITEMS - 2)
}
CATEGORIES["i10"] = ("Drama",)  # catalogued, never interacted with
CATEGORIES["i11"] = ()  # neither


@dataclass
class World:
    store: Neo4jStore
    client: TestClient
    artifact: ModelArtifact
    run: Any  # (query file stem, **params) -> list of record dicts
    items: list[ItemRecord]
    deltas: list[InteractionDelta]
    models: Path


@pytest.fixture(scope="module")
def world(
    neo4j_server: Any, neo4j_store_session: Neo4jStore, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    store = neo4j_store_session
    store.clear()
    now = clock.now_ms()
    rng = np.random.default_rng(7)
    items = [ItemRecord(i, f"Title {i}", cats) for i, cats in CATEGORIES.items()]
    store.upsert_items(items)
    deltas = []
    for u in range(N_USERS):
        for k in rng.choice(N_ITEMS - 2, size=int(rng.integers(3, 7)), replace=False):
            ts = now - int(rng.integers(1, 20 * 24)) * 3_600_000
            deltas.append(
                InteractionDelta(f"u{u}", f"i{k}", round(float(rng.uniform(0.5, 4.0)), 3), 1, ts, ts, {"view": 1}, {})
            )
    # a bot: 400 events on one item inside a minute
    deltas.append(InteractionDelta("bot", "i0", 1.0, 400, now - 60_000, now - 30_000, {"click": 400}, {}))
    store.upsert_interactions(deltas)
    models = tmp_path_factory.mktemp("saved-queries") / "models"
    cfg = PipelineConfig(
        export=ExportConfig(now_ms=now),
        train=TrainConfig(
            encoder=EncoderConfig(dim=8, layers=2), epochs=6, batch_size=32, eval_every=2, validation_fraction=0.2
        ),
    )
    train(cfg, models_path=models, half_life_days=30.0, store=store, version="v1", progress=False)
    publish(store, models_path=models, version="v1", half_life_days=30.0)
    settings = Settings(
        graph_uri=neo4j_server.uri,
        graph_user=neo4j_server.user,
        graph_password=SecretStr(neo4j_server.password),
        graph_database=neo4j_server.database,
        model_dir=models,
        api_keys=KEY,
        rate_limit_per_s=1_000,
        rate_limit_burst=1_000,
    )
    driver = GraphDatabase.driver(neo4j_server.uri, auth=(neo4j_server.user, neo4j_server.password))

    def run(stem: str, **params: Any) -> list[dict[str, Any]]:
        path = by_name(stem)
        _, _, query = parts(path)
        bound = example_params(path) | params
        records = driver.execute_query(query.rstrip().rstrip(";"), bound, database_=neo4j_server.database).records
        return [r.data() for r in records]

    with TestClient(create_app(settings), headers={"X-API-Key": KEY}) as client:
        assert client.get("/v1/model").json()["version"] == current_version(models) == "v1"
        yield World(store, client, ModelArtifact.load(models / "v1"), run, items, deltas, models)
    driver.close()
    store.clear()


def test_every_saved_query_is_covered_here() -> None:
    names = {p.stem.split("-", 1)[1] for p in FILES}
    tested = {name.removeprefix("test_").replace("_", "-") for name in globals() if name.startswith("test_")}
    assert names <= tested, f"saved queries without a live test: {sorted(names - tested)}"


def test_graph_at_a_glance(world: World) -> None:
    rows = {(r["kind"], r["name"]): r["count"] for r in world.run("graph-at-a-glance", days=7)}
    counts = world.store.counts()
    assert rows[("nodes", "User")] == counts.users == N_USERS + 1
    assert rows[("nodes", "Item")] == counts.items == N_ITEMS
    assert rows[("nodes", "Category")] == counts.categories == 3
    assert rows[("relationships", "INTERACTED")] == counts.interactions
    assert rows[("model", "Item with embedding")] == len(world.artifact.item_ids)
    assert rows[("model", "User with embedding")] == len(world.artifact.user_ids)
    assert 0 < rows[("activity", "INTERACTED in the last 7 days")] < counts.interactions


def test_user_strongest_interactions(world: World) -> None:
    rows = world.run("user-strongest-interactions", user="u3", limit=20)
    stored = {e.item_id: e for e in world.store.user_interactions(user_id="u3")}
    assert {r["item"] for r in rows} == set(stored)
    decayed = [r["decayed_weight"] for r in rows]
    assert decayed == sorted(decayed, reverse=True)
    for r in rows:
        assert r["weight"] == pytest.approx(stored[r["item"]].weight)
        assert 0 < r["decayed_weight"] <= r["weight"]
        assert r["title"] == f"Title {r['item']}"


def test_why_recommended(world: World) -> None:
    """03 repeats the API's graph side: the same score and the same evidence for every item it proposes."""
    checked = 0
    for user in ("u1", "u4", "u9"):
        body = world.client.get(f"/v1/users/{user}/recommendations", params={"k": 20, "explain": "true"}).json()
        assert body["data"], body
        for item in body["data"]:
            rows = world.run("why-recommended", user=user, item=item["item_id"])
            graph = item["scores"]["graph"]
            if graph is None:
                assert rows == [], f"{user}/{item['item_id']}: 03 finds paths the API did not"
                continue
            assert rows, f"{user}/{item['item_id']}: the API has a graph score, 03 no path"
            assert rows[0]["score"] == pytest.approx(graph, rel=1e-4)
            assert sum(r["path_score"] for r in rows) == pytest.approx(graph, rel=1e-3)
            assert rows[0]["evidence"] == item["evidence"]
            assert {r["seed"] for r in rows} >= set(item["evidence"])
            checked += 1
    assert checked >= 5


def test_similar_items(world: World) -> None:
    """04 (the cosine vector index) and the API's embedding side name the same neighbours, same cosine."""
    k = 5
    for item_id in ("i0", "i4", "i8"):
        rows = world.run("similar-items", item=item_id, k=k)
        assert len(rows) == k and all(r["same_model"] for r in rows)
        ids, cosines = world.artifact.similar(world.artifact.item_index(item_id), k)
        assert [r["item"] for r in rows] == ids.tolist()
        np.testing.assert_allclose([r["cosine"] for r in rows], cosines, atol=1e-3)
        api = world.client.get(f"/v1/items/{item_id}/similar", params={"k": N_ITEMS, "explain": "true"}).json()
        api_cos = {d["item_id"]: d["scores"]["embedding"] for d in api["data"] if d["scores"]["embedding"] is not None}
        for r in rows:
            if r["item"] in api_cos:
                assert api_cos[r["item"]] == pytest.approx(r["cosine"], abs=1e-3)
        assert {r["item"] for r in rows[:2]} <= set(api_cos), "the nearest neighbours are embedding candidates"


def test_category_neighbourhood(world: World) -> None:
    rows = world.run("category-neighbourhood", category="Comedy", limit=25)
    comedy = {i for i, cats in CATEGORIES.items() if "Comedy" in cats}
    assert {r["item"]["id"] for r in rows} == comedy
    degrees = [r["degree"] for r in rows]
    assert degrees == sorted(degrees, reverse=True)
    for r in rows:
        assert set(r["other_categories"]) == set(CATEGORIES[r["item"]["id"]]) - {"Comedy"}


def test_cold_and_unconnected_items(world: World) -> None:
    rows = {r["item"]: r for r in world.run("cold-and-unconnected-items", max_degree=2, limit=100)}
    assert rows["i11"]["status"] == "unconnected" and rows["i11"]["degree"] == 0
    assert rows["i10"]["status"] == "no interactions" and rows["i10"]["categories"] == ["Drama"]
    assert not rows["i10"]["has_embedding"]
    assert all(r["degree"] <= 2 for r in rows.values())


def test_heavy_users_and_bots(world: World) -> None:
    rows = world.run("heavy-users-and-bots", min_events=100)
    assert [r["user"] for r in rows] == ["bot"]
    assert rows[0]["suspicious"] is True and rows[0]["events"] == 400


def test_segment_top_categories(world: World, falkor_twin: FalkorDBStore) -> None:
    """10 ranks each segment's categories by its members' liked weight, as computed here from the same edges, and
    the embedded store gives the same rows; the segmentation is removed again (the other queries' graph)."""
    users = sorted({d.user_id for d in world.deltas})
    groups = {"early": users[: len(users) // 2], "late": users[len(users) // 2 :]}
    segments = [
        SegmentRecord(name, len(ids), (float(len(ids)),), ("users",), f"rule {name}") for name, ids in groups.items()
    ]
    members = [(u, name) for name, ids in groups.items() for u in ids]
    expected = []
    for name, ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        weight: dict[str, float] = defaultdict(float)
        reach: dict[str, set[str]] = defaultdict(set)
        for u in ids:
            for e in world.store.user_interactions(user_id=u, limit=1_000):
                for c in CATEGORIES[e.item_id] if e.weight > 0 else ():
                    weight[c] += e.weight
                    reach[c].add(u)
        top = sorted(weight, key=lambda c: (-weight[c], c))[:2]
        expected.append(
            {
                "segment": name,
                "size": len(ids),
                "rule": f"rule {name}",
                "top_categories": top,
                "shares": [weight[c] / sum(weight.values()) for c in top],
                "members": [len(reach[c]) for c in top],
            }
        )
    try:
        world.store.replace_segments(segments=segments, members=members, computed_ms=1)
        falkor_twin.replace_segments(segments=segments, members=members, computed_ms=1)
        for rows in (
            world.run("segment-top-categories", top=2),
            _falkor_run(falkor_twin, by_name("segment-top-categories"), top=2),
        ):
            assert [{**r, "shares": pytest.approx(r["shares"])} for r in rows] == expected
        assert world.run("segment-top-categories", min_size=len(users)) == []
    finally:
        world.store.replace_segments(segments=[], members=[], computed_ms=2)
        falkor_twin.replace_segments(segments=[], members=[], computed_ms=2)


def _gds_graphs(world: World) -> list[str]:
    return [r["graphName"] for r in world.store._read("CALL gds.graph.list() YIELD graphName RETURN graphName")]


def test_gds_fastrp_similar_items(world: World) -> None:
    rows = world.run("gds-fastrp-similar-items", item="i4", k=5, dim=32)
    assert len(rows) == 5 and "i4" not in {r["item"] for r in rows}
    assert all(-1.0 <= r["fastrp_cosine"] <= 1.0 for r in rows)
    sims = [r["fastrp_cosine"] for r in rows]
    assert sims == sorted(sims, reverse=True)
    assert world.run("gds-fastrp-similar-items", item="i4", k=5, dim=32) == rows, "fixed seeds: same answer"
    assert _gds_graphs(world) == [], "the in-memory graph is dropped"


def test_gds_louvain_communities(world: World) -> None:
    rows = world.run("gds-louvain-communities", min_size=1, limit=100)
    assert rows
    positive_users = {f"u{k}" for k in range(N_USERS)} | {"bot"}
    connected_items = {e.item_id for u in positive_users for e in world.store.user_interactions(user_id=u)}
    assert sum(r["users"] for r in rows) == len(positive_users)
    assert sum(r["items"] for r in rows) == len(connected_items)
    for r in rows:
        assert r["size"] == r["users"] + r["items"]
        assert len(r["top_items"]) == min(5, r["items"]) and len(r["top_categories"]) <= 3
    assert _gds_graphs(world) == []


# -- the FalkorDB forms (graph/queries/falkordb/) on the embedded store, against the Neo4j originals --

FALKOR_FORMS = sorted((by_name("graph-at-a-glance").parent / "falkordb").glob("*.cypher"))


@pytest.fixture(scope="module")
def falkor_twin(world: World, embedded_store_session: FalkorDBStore) -> Iterator[FalkorDBStore]:
    """The embedded store holding the same graph and the same published model."""
    twin = embedded_store_session
    twin.clear()
    twin.apply_schema()  # as the API applied it to the Neo4j world (its meta records included)
    twin.upsert_items(world.items)
    twin.upsert_interactions(world.deltas)
    publish(twin, models_path=world.models, version="v1", half_life_days=30.0)
    yield twin
    twin.clear()


def _falkor_run(twin: FalkorDBStore, path: Path, **params: Any) -> list[dict[str, Any]]:
    _, _, query = parts(path)
    result = twin.run_cypher(query.rstrip().rstrip(";"), example_params(path) | params)
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _same(
    neo: list[dict[str, Any]], falkor: list[dict[str, Any]], *, renamed: dict[str, str], skip: set[str] = frozenset()
) -> None:  # type: ignore[assignment]
    assert len(neo) == len(falkor) > 0
    for n, f in zip(neo, falkor, strict=True):
        for key, value in n.items():
            if key in skip or key in renamed:
                continue
            other = f[key]
            if isinstance(value, float):
                assert other == pytest.approx(value, rel=1e-3, abs=1e-3), key
            else:
                assert other == value, key


def test_every_query_that_fails_on_falkordb_has_a_falkordb_form() -> None:
    names = {p.name for p in FALKOR_FORMS}
    assert names == {
        "02-user-strongest-interactions.cypher",
        "03-why-recommended.cypher",
        "04-similar-items.cypher",
        "07-heavy-users-and-bots.cypher",
    }
    readme = (by_name("graph-at-a-glance").parent / "README.md").read_text(encoding="utf-8")
    for name in names:
        assert f"falkordb/{name}" in readme


@pytest.mark.parametrize("stem", ["graph-at-a-glance", "category-neighbourhood", "cold-and-unconnected-items"])
def test_portable_queries_run_unchanged_on_falkordb(world: World, falkor_twin: FalkorDBStore, stem: str) -> None:
    neo = world.run(stem)
    falkor = _falkor_run(falkor_twin, by_name(stem))
    key = {
        "graph-at-a-glance": ("kind", "name"),
        "category-neighbourhood": ("degree",),
        "cold-and-unconnected-items": ("item",),
    }[stem]
    if stem == "category-neighbourhood":  # nodes compare by id; the embedding-free projection is the same
        neo = [{"item": r["item"]["id"], "degree": r["degree"], "other": sorted(r["other_categories"])} for r in neo]
        falkor = [
            {"item": r["item"]["id"], "degree": r["degree"], "other": sorted(r["other_categories"])} for r in falkor
        ]
        key = ("item",)
    order = lambda rows: sorted(rows, key=lambda r: tuple(str(r[k]) for k in key))  # noqa: E731
    _same(order(neo), order(falkor), renamed={})


def test_falkordb_form_of_user_strongest_interactions(world: World, falkor_twin: FalkorDBStore) -> None:
    path = FALKOR_FORMS[0]
    neo, falkor = world.run("user-strongest-interactions", user="u3"), _falkor_run(falkor_twin, path, user="u3")
    _same(neo, falkor, renamed={"last_seen": "last_seen_ms"}, skip={"edge", "p"})
    assert [r["last_seen_ms"] for r in falkor] == [int(r["last_seen"].to_native().timestamp() * 1000) for r in neo]


def test_falkordb_form_of_why_recommended(world: World, falkor_twin: FalkorDBStore) -> None:
    checked = 0
    for user in ("u1", "u4"):
        for item in (f"i{k}" for k in range(N_ITEMS - 2)):
            neo = world.run("why-recommended", user=user, item=item)
            falkor = _falkor_run(falkor_twin, FALKOR_FORMS[1], user=user, item=item)
            if not neo:
                assert falkor == []
                continue
            _same(neo, falkor, renamed={}, skip={"path"})
            checked += 1
    assert checked >= 5


def test_falkordb_form_of_similar_items(world: World, falkor_twin: FalkorDBStore) -> None:
    for item in ("i0", "i4"):
        neo = world.run("similar-items", item=item, k=5)
        falkor = _falkor_run(falkor_twin, FALKOR_FORMS[2], item=item, k=5)
        assert [r["item"] for r in falkor] == [r["item"] for r in neo]
        np.testing.assert_allclose([r["cosine"] for r in falkor], [r["cosine"] for r in neo], atol=1e-3)


def test_falkordb_form_of_heavy_users_and_bots(world: World, falkor_twin: FalkorDBStore) -> None:
    neo, falkor = world.run("heavy-users-and-bots"), _falkor_run(falkor_twin, FALKOR_FORMS[3])
    _same(neo, falkor, renamed={"first_seen": "first_seen_ms", "last_seen": "last_seen_ms"})
