"""The in-process co-interaction index must score exactly like the store's Cypher traversal."""

from __future__ import annotations

import numpy as np
import pytest

from factories import DAY_MS, T0, delta
from graphrec.clock import decay_weights
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.recommend.cograph import CoInteractionIndex, GraphCandidates


def random_graph(store: FalkorDBStore, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    rows = {}
    for _ in range(600):
        u, i = int(rng.integers(0, 40)), int(rng.zipf(1.6)) % 60
        rows[(u, i)] = delta(f"u{u}", f"i{i}", float(rng.integers(1, 6)), ts=T0 - int(rng.integers(0, 90)) * DAY_MS)
    store.upsert_interactions(list(rows.values()))


def seeds_of(store: FalkorDBStore, user: str, n: int, half_life: float) -> list[tuple[str, float]]:
    history = store.user_interactions(user_id=user, limit=n)
    decayed = decay_weights(
        np.array([e.weight for e in history]),
        np.array([e.last_ts for e in history]),
        now_ms=T0,
        half_life_days=half_life,
    )
    return [(e.item_id, float(w)) for e, w in zip(history, decayed, strict=True)]


def as_dict(got: GraphCandidates) -> dict[str, float]:
    return dict(zip(got.ids.tolist(), got.scores.tolist(), strict=True))


def test_user_candidates_match_the_store_traversal(store: FalkorDBStore) -> None:
    random_graph(store)
    index = CoInteractionIndex.from_pages(store.iter_interactions(page_size=100), fanout=1000, co_items=10**6)
    assert index.edges == store.counts().interactions
    for user in ("u0", "u7", "u23"):
        expected = store.co_interaction_candidates_for_user(
            user_id=user, limit=15, seed_items=1000, fanout=1000, now_ms=T0, half_life_days=30.0
        )
        seen = [e.item_id for e in store.user_interactions(user_id=user, limit=1000)]
        got = index.candidates_for_user(seeds=seeds_of(store, user, 1000, 30.0), limit=15, exclude=seen)
        assert got.ids.tolist() == [c.item_id for c in expected] or [round(x, 6) for x in got.scores.tolist()] == [
            round(c.score, 6) for c in expected
        ]
        assert as_dict(got) == pytest.approx({c.item_id: c.score for c in expected}, rel=1e-5)
        for c in expected:
            evidence = got.evidence(c.item_id)
            assert evidence and set(evidence) <= set(seen)
            # the store names the strongest seeds too; ties may order differently
            assert set(evidence) <= set(c.evidence) or len(c.evidence) >= 3


def test_item_candidates_match_the_store_traversal(store: FalkorDBStore) -> None:
    random_graph(store, seed=3)
    index = CoInteractionIndex.from_pages(store.iter_interactions(), fanout=1000)
    for item in ("i1", "i5"):
        expected = store.co_interaction_candidates_for_item(item_id=item, limit=10, fanout=1000)
        got = index.candidates_for_item(item_id=item, limit=10, fanout=1000)
        assert {c.item_id: c.score for c in got} == pytest.approx({c.item_id: c.score for c in expected}, rel=1e-5)


def test_fanout_caps_keep_the_strongest_edges() -> None:
    # Seed s has users me (9), a (5), b (3), c (1), each with one other item. The cap keeps the
    # strongest; "me" takes a slot here (its own paths only reach seen items, which are excluded).
    users = np.array(["me", "a", "b", "c", "a", "b", "c"], dtype=object)
    items = np.array(["s", "s", "s", "s", "x", "y", "z"], dtype=object)
    weights = np.array([9.0, 5.0, 3.0, 1.0, 1.0, 1.0, 1.0])
    capped = CoInteractionIndex.from_arrays(users, items, weights, fanout=3)
    got = capped.candidates_for_user(seeds=[("s", 1.0)], exclude=["s"])
    assert sorted(got.ids.tolist()) == ["x", "y"]  # me (9), a (5), b (3): c falls outside the cap
    index = CoInteractionIndex.from_arrays(users, items, weights, fanout=10)
    every = index.candidates_for_user(seeds=[("s", 1.0)], exclude=["s"])
    assert sorted(every.ids.tolist()) == ["x", "y", "z"]
    assert every.scores[0] == pytest.approx(1.0 / np.sqrt(4 * 1))
    assert every.evidence(every.ids[0]) == ("s",)
    assert every.evidence("s") == () and every.evidence("unknown") == ()


def test_unknown_seeds_and_items_give_nothing() -> None:
    index = CoInteractionIndex.from_arrays(
        np.array(["u"], dtype=object), np.array(["i"], dtype=object), np.array([1.0])
    )
    assert len(index.candidates_for_user(seeds=[("nope", 1.0)])) == 0
    assert index.candidates_for_item(item_id="nope") == []


def test_co_lists_keep_only_the_best_entries_per_item() -> None:
    users = np.array(["a", "a", "a", "b", "b"], dtype=object)
    items = np.array(["s", "x", "y", "s", "y"], dtype=object)
    weights = np.array([1.0, 1.0, 3.0, 1.0, 1.0])
    index = CoInteractionIndex.from_arrays(users, items, weights, co_items=1)
    got = index.candidates_for_user(seeds=[("s", 2.0)])
    # S(s, y) = (3 + 1) / sqrt(2 * 2) = 2 beats S(s, x) = 1 / sqrt(2 * 1); only y is kept.
    assert got.ids.tolist() == ["y"]
    assert got.scores[0] == pytest.approx(2.0 * 2.0)
