"""The GraphStore contract: every adapter must pass these, against a real server.

Runs on the embedded FalkorDB always; on Neo4j when ``NEO4J_URI`` is set (see conftest).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace

import numpy as np
import pytest
from store_reads import nearest, stored_embedding

from factories import DAY_MS, T0, delta
from graphrec.graph.port import GraphStore
from graphrec.graph.records import (
    BatchGuard,
    CatalogueItem,
    InteractionPage,
    ItemRecord,
    UserHistory,
    UserRecord,
)


def test_schema_is_idempotent(any_store: GraphStore) -> None:
    any_store.apply_schema()
    any_store.apply_schema()
    assert any_store.counts().users == 0


def test_upsert_users_and_items_with_categories(any_store: GraphStore) -> None:
    any_store.upsert_users([UserRecord("u1", {"age": 31}), UserRecord("u2")])
    any_store.upsert_items(
        [
            ItemRecord("i1", "Toy Story", ("Animation", "Comedy")),
            ItemRecord("i2", "Heat", ("Action",)),
            ItemRecord("i3", None, ()),
        ]
    )
    # Upserting again updates in place: no duplicate nodes or links.
    any_store.upsert_items([ItemRecord("i1", "Toy Story (1995)", ("Animation", "Comedy"))])
    counts = any_store.counts()
    assert (counts.users, counts.items, counts.categories, counts.interactions) == (2, 3, 3, 0)
    items = list(any_store.iter_items(page_size=2))
    ids = [i for p in items for i in p.ids]
    titles = dict(zip(ids, [t for p in items for t in p.titles], strict=True))
    cats = dict(zip(ids, [c for p in items for c in p.categories], strict=True))
    assert ids == ["i1", "i2", "i3"]
    assert titles["i1"] == "Toy Story (1995)"
    assert cats == {"i1": ["Animation", "Comedy"], "i2": ["Action"], "i3": []}
    users = [u for page in any_store.iter_users(page_size=1) for u in page]
    assert [u.id for u in users] == ["u1", "u2"]
    assert users[0].props["age"] == 31


def test_interactions_aggregate_across_batches(any_store: GraphStore) -> None:
    any_store.upsert_interactions(
        [
            delta("u1", "i1", 2.0, ts=T0 + 10, types={"view": 1, "dwell": 1}, sums={"dwell": 30.0}),
            delta("u1", "i2", 1.0, ts=T0),
        ]
    )
    any_store.upsert_interactions(
        [
            delta(
                "u1",
                "i1",
                3.5,
                ts=T0 + 5,
                last_ts=T0 + 50,
                count=2,
                types={"click": 2, "dwell": 1},
                sums={"dwell": 12.5},
            ),
        ]
    )
    edges = {e.item_id: e for e in any_store.user_interactions(user_id="u1")}
    e = edges["i1"]
    assert e.weight == pytest.approx(5.5)
    assert e.count == 3
    assert (e.first_ts, e.last_ts) == (T0 + 5, T0 + 50)
    assert dict(e.type_counts) == {"view": 1, "click": 2, "dwell": 2}
    assert dict(e.value_sums) == {"dwell": pytest.approx(42.5)}
    assert any_store.counts().interactions == 2
    assert any_store.user_exists(user_id="u1") and any_store.item_exists(item_id="i2")
    assert not any_store.user_exists(user_id="nobody")


def test_a_batch_naming_one_pair_twice_adds_both_deltas(any_store: GraphStore) -> None:
    # Callers fold a batch's deltas per pair, but nothing in the port forbids one pair twice: both
    # count, in order (Neo4j's per-user write folds them first; the MERGE form applies them in turn).
    any_store.upsert_interactions([delta("u1", "i1", 2.0, ts=T0), delta("u1", "i2", 1.0)])
    any_store.upsert_interactions(
        [
            delta("u1", "i1", -3.5, ts=T0 + 5, types={"click": 1}),
            delta("u1", "i3", 1.0),
            delta("u1", "i1", 0.5, ts=T0 - 5, types={"view": 2}),
            delta("u1", "i3", 0.25, ts=T0 + 9),
        ]
    )
    edges = {e.item_id: e for e in any_store.user_interactions(user_id="u1")}
    assert any_store.counts().interactions == 3
    assert (edges["i1"].weight, edges["i1"].count) == (pytest.approx(-1.0), 3)
    assert (edges["i1"].first_ts, edges["i1"].last_ts) == (T0 - 5, T0 + 5)
    assert dict(edges["i1"].type_counts) == {"view": 3, "click": 1}
    assert (edges["i3"].weight, edges["i3"].count, edges["i3"].last_ts) == (pytest.approx(1.25), 2, T0 + 9)
    # i1's weight went negative: u1 has two liked edges left, i1 none
    degrees = dict(any_store.run_cypher("MATCH (n) WHERE n:User OR n:Item RETURN n.id, n.degree").rows)
    assert degrees == {"u1": 2, "i1": 0, "i2": 1, "i3": 1}


def test_user_interactions_most_recent_first_with_limit(any_store: GraphStore) -> None:
    any_store.upsert_interactions([delta("u", f"i{k}", ts=T0 + k * 1000) for k in range(5)])
    got = any_store.user_interactions(user_id="u", limit=3)
    assert [e.item_id for e in got] == ["i4", "i3", "i2"]
    assert any_store.user_interactions(user_id="missing") == []


def test_user_history_columns_match_the_full_records(any_store: GraphStore) -> None:
    any_store.upsert_interactions([delta("u", f"i{k}", 0.5 + k, ts=T0 + k * 1000) for k in range(5)])
    any_store.upsert_interactions([delta("u", "i1", 2.25, ts=T0 + 9_000)])
    history = any_store.user_history(user_id="u", limit=3)
    full = any_store.user_interactions(user_id="u", limit=3)
    assert history.item_ids == [e.item_id for e in full] == ["i1", "i4", "i3"]
    assert history.weights.dtype == np.float64 and history.last_ts.dtype == np.int64
    assert history.weights.tolist() == pytest.approx([e.weight for e in full])
    assert history.weights[0] == pytest.approx(1.5 + 2.25)
    assert history.last_ts.tolist() == [e.last_ts for e in full] == [T0 + 9_000, T0 + 4_000, T0 + 3_000]
    empty = any_store.user_history(user_id="missing")
    assert len(empty) == 0 and empty.weights.dtype == np.float64


def test_history_reader_awaits_the_same_read(any_store: GraphStore) -> None:
    any_store.upsert_interactions([delta("u", f"i{k}", 1.0 + k, ts=T0 + k * 1000) for k in range(4)])

    async def read() -> tuple[UserHistory, UserHistory]:
        reader = any_store.history_reader()
        try:
            return (await reader.user_history(user_id="u", limit=3), await reader.user_history(user_id="missing"))
        finally:
            await reader.aclose()

    got, missing = asyncio.run(read())
    want = any_store.user_history(user_id="u", limit=3)
    assert got.item_ids == want.item_ids == ["i3", "i2", "i1"]
    assert got.weights.tolist() == want.weights.tolist() and got.last_ts.tolist() == want.last_ts.tolist()
    assert len(missing) == 0


def test_guarded_batches_apply_exactly_once(any_store: GraphStore) -> None:
    key = "import:sha256:abc"
    assert any_store.ledger_position(key) == 0
    assert any_store.upsert_interactions([delta("u1", "i1", 1.0)], guard=BatchGuard(key, 0)) == 1
    # A replay of batch 0 (a retry after a crash, a re-import) is refused whole.
    assert any_store.upsert_interactions([delta("u1", "i1", 1.0), delta("u2", "i1")], guard=BatchGuard(key, 0)) == 0
    assert any_store.ledger_position(key) == 1
    # Skipping ahead is refused too: batches apply in order.
    assert any_store.upsert_interactions([delta("u3", "i1")], guard=BatchGuard(key, 2)) == 0
    assert any_store.upsert_interactions([delta("u1", "i1", 1.0)], guard=BatchGuard(key, 1)) == 1
    assert any_store.user_interactions(user_id="u1")[0].weight == pytest.approx(2.0)
    assert any_store.counts().users == 1
    assert not any_store.ledger_is_complete(key)
    any_store.ledger_complete(key, rows=2)
    assert any_store.ledger_is_complete(key)


def _co_graph(store: GraphStore) -> None:
    # u0 saw a (long ago) and b (recently); u1, u2 share a/b with others.
    store.upsert_interactions(
        [
            delta("u0", "a", 1.0, ts=T0 - 60 * DAY_MS),
            delta("u0", "b", 1.0, ts=T0),
            delta("u1", "a", 1.0),
            delta("u1", "c", 2.0),
            delta("u2", "b", 1.0),
            delta("u2", "d", 2.0),
            delta("u2", "c", 1.0),
            delta("u3", "d", 1.0),
        ]
    )


def test_user_candidates_weighted_degree_normalised_decayed(any_store: GraphStore) -> None:
    _co_graph(any_store)
    got = any_store.co_interaction_candidates_for_user(user_id="u0", now_ms=T0, half_life_days=30.0)
    scores = {c.item_id: c.score for c in got}
    # degrees: a=2, b=2, c=2, d=2. seed a decays by 2 half-lives (x0.25), b is fresh (x1).
    expected_c = 0.25 * 2.0 / math.sqrt(2 * 2) + 1.0 * 1.0 / math.sqrt(2 * 2)
    expected_d = 1.0 * 2.0 / math.sqrt(2 * 2)
    assert set(scores) == {"c", "d"}  # the user's own items are never candidates
    assert scores["c"] == pytest.approx(expected_c)
    assert scores["d"] == pytest.approx(expected_d)
    assert [c.item_id for c in got] == ["d", "c"]
    by_id = {c.item_id: c for c in got}
    assert set(by_id["c"].evidence) == {"a", "b"}
    assert by_id["d"].evidence == ("b",)
    assert any_store.co_interaction_candidates_for_user(user_id="nobody", now_ms=T0, half_life_days=30.0) == []


def test_candidates_respect_fanout_caps(any_store: GraphStore) -> None:
    # A hub item with 40 co-users, each with its own item: fan-out 5 reaches at most 5 of them.
    rows = [delta("me", "hub")]
    rows += [delta(f"v{k}", "hub") for k in range(40)]
    rows += [delta(f"v{k}", f"x{k}") for k in range(40)]
    any_store.upsert_interactions(rows)
    got = any_store.co_interaction_candidates_for_user(
        user_id="me", fanout=5, limit=100, now_ms=T0, half_life_days=30.0
    )
    assert 1 <= len(got) <= 5
    got_all = any_store.co_interaction_candidates_for_user(
        user_id="me", fanout=100, limit=100, now_ms=T0, half_life_days=30.0
    )
    assert len(got_all) == 40
    assert len(any_store.co_interaction_candidates_for_item(item_id="hub", fanout=5)) <= 5


def test_item_candidates(any_store: GraphStore) -> None:
    _co_graph(any_store)
    got = any_store.co_interaction_candidates_for_item(item_id="b")
    scores = {c.item_id: c.score for c in got}
    # b's users: u0 (a), u2 (d, c). All degrees 2.
    assert scores == pytest.approx({"a": 0.5, "d": 1.0, "c": 0.5})
    assert got[0].item_id == "d"


def test_paged_export_returns_every_edge_once(any_store: GraphStore) -> None:
    rows = [delta(f"u{u:02d}", f"i{(u * 7 + k) % 13}", 1.0 + k, ts=T0 + k) for u in range(23) for k in range(3)]
    any_store.upsert_interactions(rows)
    pages = list(any_store.iter_interactions(page_size=10))
    assert len(pages) > 3
    got = sorted((u, i, w) for p in pages for u, i, w in zip(p.user_ids, p.item_ids, p.weights, strict=True))
    assert got == sorted((d.user_id, d.item_id, d.weight) for d in rows)
    recent = [e for p in any_store.iter_interactions(page_size=10, since_ms=T0 + 2) for e in p.item_ids]
    assert len(recent) == 23


def test_trending_read_leaves_out_provisional_items_and_carries_each_edges_sender(any_store: GraphStore) -> None:
    any_store.upsert_items([ItemRecord("described")])
    any_store.upsert_interactions(
        [
            replace(delta("u1", "described", ts=T0), client="c-browser"),
            delta("u2", "described", ts=T0),  # a trusted sender (secret key, import): no client
            replace(delta("u1", "made-up", ts=T0), client="c-browser"),  # an event created it: provisional
            replace(delta("u3", "described", ts=T0 - 10), client="c-old"),
            delta("u4", "imported", ts=T0),  # provisional, but a trusted sender's (an events-only import)
        ]
    )
    page = InteractionPage.concat(list(any_store.iter_trending_edges(page_size=2, since_ms=T0 - 5)))
    assert page.clients is not None
    got = sorted(zip(page.user_ids.tolist(), page.item_ids.tolist(), page.clients.tolist(), strict=True))
    assert got == [("u1", "described", "c-browser"), ("u2", "described", ""), ("u4", "imported", "")]
    # the sender of an edge's latest events stands; once described, the item's edges are read
    any_store.upsert_interactions([replace(delta("u1", "described", ts=T0 + 1), client="")])
    any_store.replace_items([CatalogueItem("made-up", title="Now described")])
    page = InteractionPage.concat(list(any_store.iter_trending_edges(since_ms=T0 - 5)))
    assert page.clients is not None
    assert sorted(zip(page.user_ids.tolist(), page.item_ids.tolist(), page.clients.tolist(), strict=True)) == [
        ("u1", "described", ""),
        ("u1", "made-up", "c-browser"),
        ("u2", "described", ""),
        ("u4", "imported", ""),
    ]


def test_embeddings_vector_index_and_dimension_change(any_store: GraphStore) -> None:
    any_store.upsert_items([ItemRecord(f"i{k}") for k in range(4)])
    vecs = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    assert (
        any_store.write_embeddings(label="Item", ids=[f"i{k}" for k in range(4)], vectors=vecs, model_version="v1") == 4
    )
    got = nearest(any_store, "Item", np.array([1, 0, 0], dtype=np.float32), k=2)
    assert [g[0] for g in got] == ["i0", "i1"]
    assert got[0][1] == pytest.approx(1.0, abs=1e-5)
    assert got[1][1] == pytest.approx(0.9 / math.sqrt(0.82), abs=1e-4)
    np.testing.assert_allclose(stored_embedding(any_store, "Item", "i2"), [0, 1, 0])
    assert stored_embedding(any_store, "Item", "nope") is None
    # A new model version with another width replaces embeddings and index.
    any_store.write_embeddings(
        label="Item", ids=["i0", "i1", "i2", "i3"], vectors=np.eye(4, 5, dtype=np.float32), model_version="v2"
    )
    got = nearest(any_store, "Item", np.eye(1, 5, 2, dtype=np.float32)[0], k=1)
    assert got[0][0] == "i2"


def test_user_embeddings(any_store: GraphStore) -> None:
    any_store.upsert_users([UserRecord("a"), UserRecord("b")])
    any_store.write_embeddings(
        label="User", ids=["a", "b"], vectors=np.array([[1, 0], [0, 1]], np.float32), model_version="v1"
    )
    assert nearest(any_store, "User", np.array([0.1, 1.0], np.float32), k=1)[0][0] == "b"


def test_meta(any_store: GraphStore) -> None:
    assert any_store.get_meta(key="model_version") is None
    any_store.set_meta(key="model_version", value="20261123-1")
    any_store.set_meta(key="model_version", value="20261123-2")
    assert any_store.get_meta(key="model_version") == "20261123-2"


def test_erase_user_erases_edges_and_fixes_degrees(any_store: GraphStore) -> None:
    _co_graph(any_store)
    any_store.write_embeddings(label="User", ids=["u2"], vectors=np.ones((1, 3), np.float32), model_version="v1")
    assert any_store.erase_user(user_id="u2") is True
    assert any_store.user_interactions(user_id="u2") == []
    assert not any_store.user_exists(user_id="u2") and stored_embedding(any_store, "User", "u2") is None
    assert any_store.erase_user(user_id="u2") is False
    counts = any_store.counts()
    assert (counts.users, counts.interactions) == (3, 5)
    # d now has one user (u3): its degree must be 1 for normalisation. u0's path to d is gone.
    got = any_store.co_interaction_candidates_for_item(item_id="a")
    assert {c.item_id: c.score for c in got} == pytest.approx({"b": 1 / math.sqrt(2 * 1), "c": 2 / math.sqrt(2 * 1)})


def test_merge_users_combines_and_is_idempotent(any_store: GraphStore) -> None:
    any_store.upsert_interactions(
        [
            delta("anon", "i1", 1.0, ts=T0 - 10, types={"view": 1}),
            delta("anon", "i2", 2.0, ts=T0, types={"click": 1}),
            delta("user", "i1", 3.0, ts=T0 + 10, types={"purchase": 1}),
        ]
    )
    assert any_store.merge_users(source_id="anon", target_id="user") is True
    assert any_store.merge_users(source_id="anon", target_id="user") is False
    edges = {e.item_id: e for e in any_store.user_interactions(user_id="user")}
    assert edges["i1"].weight == pytest.approx(4.0)
    assert (edges["i1"].first_ts, edges["i1"].last_ts) == (T0 - 10, T0 + 10)
    assert dict(edges["i1"].type_counts) == {"view": 1, "purchase": 1}
    assert edges["i2"].weight == pytest.approx(2.0)
    assert not any_store.user_exists(user_id="anon")
    assert any_store.counts().interactions == 2
    # Item degrees stay exact: i1 has one user now.
    any_store.upsert_interactions([delta("other", "i1"), delta("other", "i3")])
    got = {c.item_id: c.score for c in any_store.co_interaction_candidates_for_item(item_id="i3")}
    assert got == pytest.approx({"i1": 1.0 / math.sqrt(1 * 2)})


def test_merge_into_new_user_creates_it(any_store: GraphStore) -> None:
    any_store.upsert_interactions([delta("anon", "i1", 1.0)])
    assert any_store.merge_users(source_id="anon", target_id="fresh") is True
    assert [e.item_id for e in any_store.user_interactions(user_id="fresh")] == ["i1"]


def test_ids_are_data_not_cypher(any_store: GraphStore) -> None:
    evil = "x'}) DETACH DELETE n //"
    any_store.upsert_interactions([delta(evil, "i1"), delta("u2", "i1")])
    assert any_store.user_exists(user_id=evil)
    assert any_store.counts().users == 2
    assert any_store.user_interactions(user_id=evil)[0].item_id == "i1"


def test_clear_and_ping(any_store: GraphStore) -> None:
    any_store.upsert_interactions([delta("u", "i")])
    assert any_store.ping()
    any_store.clear()
    assert any_store.counts().interactions == 0


def test_vector_index_is_complete_when_write_returns(any_store: GraphStore) -> None:
    """A re-published model of another width rebuilds the index; queries must see every node."""
    n = 3000
    ids = [f"i{k}" for k in range(n)]
    any_store.upsert_items([ItemRecord(i) for i in ids])
    rng = np.random.default_rng(0)
    any_store.write_embeddings(label="Item", ids=ids, vectors=rng.random((n, 8), dtype=np.float32), model_version="a")
    target = rng.random((n, 12), dtype=np.float32)
    any_store.write_embeddings(label="Item", ids=ids, vectors=target, model_version="b")
    for k in (0, n // 2, n - 1):
        got = nearest(any_store, "Item", target[k], k=1)
        assert got[0][0] == ids[k]
