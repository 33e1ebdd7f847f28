"""Trending items: recent, recency-decayed, and never empty while the store has interactions."""

from __future__ import annotations

from factories import DAY_MS, T0, delta
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.records import ItemRecord
from graphrec.recommend.popular import build_view


def test_trending_ranks_the_window_by_decayed_weight(store: FalkorDBStore) -> None:
    store.upsert_items([ItemRecord("old", "Old", ("a",)), ItemRecord("new", "New", ("a",))])
    store.upsert_interactions([delta(f"u{k}", "old", 5.0, ts=T0 - 60 * DAY_MS) for k in range(5)]
                              + [delta("u0", "new", 1.0, ts=T0 - DAY_MS)])
    view = build_view(store, now_ms=T0, window_days=30, half_life_days=30)
    assert [item for item, _ in view.popular] == ["new"]  # "old" is outside the 30-day window
    assert [item for item, _ in view.trending("a", 5)] == ["new"]


def test_an_empty_window_falls_back_to_all_edges_as_of_the_newest(store: FalkorDBStore) -> None:
    store.upsert_items([ItemRecord("a"), ItemRecord("b")])
    old = T0 - 400 * DAY_MS  # a dataset from the past: nothing inside any recent window
    store.upsert_interactions([delta("u1", "a", 1.0, ts=old), delta("u2", "a", 1.0, ts=old),
                               delta("u1", "b", 1.5, ts=old - 10 * DAY_MS)])
    view = build_view(store, now_ms=T0, window_days=30, half_life_days=30)
    ranked = dict(view.popular)
    assert list(ranked) == ["a", "b"]
    # decayed as of the newest edge, not of now: a year-old catalogue keeps meaningful scores
    assert ranked["a"] == 2.0 and 0.5 < ranked["b"] < 1.5


def test_no_interactions_no_trending(store: FalkorDBStore) -> None:
    store.upsert_items([ItemRecord("a")])
    assert build_view(store, now_ms=T0, window_days=30, half_life_days=30).popular == ()
