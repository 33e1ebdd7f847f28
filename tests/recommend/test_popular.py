"""Trending items: recent, recency-decayed, never empty while the store has interactions, and not for sale:
distinct actors, a cap per client, no provisional items."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from factories import DAY_MS, T0, delta
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.records import CatalogueItem, InteractionPage, ItemRecord
from graphrec.recommend.popular import build_view, rank_trending


def test_trending_ranks_the_window_by_decayed_weight(store: FalkorDBStore) -> None:
    store.upsert_items([ItemRecord("old", "Old", ("a",)), ItemRecord("new", "New", ("a",))])
    store.upsert_interactions(
        [delta(f"u{k}", "old", 5.0, ts=T0 - 60 * DAY_MS) for k in range(5)] + [delta("u0", "new", 1.0, ts=T0 - DAY_MS)]
    )
    view = build_view(store, now_ms=T0, window_days=30, half_life_days=30)
    assert [item for item, _ in view.popular] == ["new"]  # "old" is outside the 30-day window
    assert [item for item, _ in view.trending("a", 5)] == ["new"]


def test_an_empty_window_falls_back_to_all_edges_as_of_the_newest(store: FalkorDBStore) -> None:
    store.upsert_items([ItemRecord("a"), ItemRecord("b")])
    old = T0 - 400 * DAY_MS  # a dataset from the past: nothing inside any recent window
    store.upsert_interactions(
        [delta("u1", "a", 1.0, ts=old), delta("u2", "a", 1.0, ts=old), delta("u1", "b", 1.5, ts=old - 10 * DAY_MS)]
    )
    view = build_view(store, now_ms=T0, window_days=30, half_life_days=30)
    ranked = dict(view.popular)
    assert list(ranked) == ["a", "b"]
    # decayed as of the newest edge, not of now: a year-old catalogue keeps meaningful scores
    assert ranked["a"] == 2.0 and 0.5 < ranked["b"] < 1.5


def test_no_interactions_no_trending(store: FalkorDBStore) -> None:
    store.upsert_items([ItemRecord("a")])
    assert build_view(store, now_ms=T0, window_days=30, half_life_days=30).popular == ()


# -- what counts (issue 25: shared lists cannot be bought) --------------------------------------------


def edges(*rows: tuple[str, str, float, str], ts: int = T0) -> InteractionPage:
    """``(actor, item, weight, client)`` rows, all touched at ``ts``, as the trending read returns them."""
    actors, items, weights, clients = zip(*rows, strict=True)
    return InteractionPage(
        np.array(actors, dtype=object),
        np.array(items, dtype=object),
        np.array(weights),
        np.full(len(rows), ts, dtype=np.int64),
        np.array(clients, dtype=object),
    )


def scores(page: InteractionPage, cap: int | None = 3) -> dict[str, float]:
    ranked, _ = rank_trending(page, as_of=T0, half_life_days=30, categories={}, actors_per_client=cap)
    return dict(ranked)


def test_trending_counts_distinct_actors_not_events() -> None:
    # one actor's 10 purchases (weight 50) against three actors' clicks: people, not volume
    page = edges(("whale", "a", 50.0, ""), *((f"u{k}", "b", 1.0, "") for k in range(3)))
    assert scores(page) == {"b": 3.0, "a": 1.0}


def test_an_actor_counts_at_most_a_click_and_weak_or_negative_signals_count_less() -> None:
    page = edges(("u1", "a", 0.1, ""), ("u2", "a", 0.5, ""), ("u3", "b", 2.5, ""), ("u4", "c", -4.0, ""))
    got = scores(page)
    assert got == {"b": 1.0, "a": pytest.approx(0.6)}  # a dislike adds nothing, and lists only what scored


def test_one_client_counts_for_at_most_its_cap_of_actors_per_item() -> None:
    bought = [(f"bot-{k}", "bought", 1.0, "c-script") for k in range(200)]
    real = [(f"v{k}", "real", 1.0, f"c-browser-{k}") for k in range(5)]
    got = scores(edges(*bought, *real))
    assert got == {"real": 5.0, "bought": 3.0}
    assert scores(edges(*bought, *real), cap=None) == {"bought": 200.0, "real": 5.0}  # the cap is what held


def test_the_cap_is_per_item_and_keeps_a_clients_strongest_actors() -> None:
    # one office (one client) with 5 people: on each item its 3 strongest count
    page = edges(
        *((f"p{k}", "a", w, "c-office") for k, w in enumerate([0.1, 1.0, 0.5, 1.0, 0.2])),
        *((f"p{k}", "b", 1.0, "c-office") for k in range(2)),
    )
    assert scores(page) == {"a": pytest.approx(2.5), "b": 2.0}


def test_trusted_senders_count_every_actor() -> None:
    # a shop's backend relays 50 signed-in users from one address with its secret key (client "")
    relayed = edges(*((f"u{k}", "a", 1.0, "") for k in range(50)))
    assert scores(relayed) == {"a": 50.0}


def test_provisional_items_never_trend_from_browsers_until_the_catalogue_describes_them(store: FalkorDBStore) -> None:
    store.upsert_items([ItemRecord("real", "Real", ("a",))])
    browsers = [replace(delta(f"u{k}", "ghost", 5.0, ts=T0 - DAY_MS), client=f"c{k}") for k in range(50)]
    store.upsert_interactions([delta("u0", "real", ts=T0 - DAY_MS)] + browsers)  # events only, 50 addresses
    view = build_view(store, now_ms=T0, window_days=30, half_life_days=30, actors_per_client=3)
    assert [item for item, _ in view.popular] == ["real"]
    # also when the window is empty and every edge is ranked as of the newest
    assert [i for i, _ in build_view(store, now_ms=T0 + 90 * DAY_MS, window_days=30, half_life_days=30).popular] == [
        "real"
    ]
    store.replace_items([CatalogueItem("ghost", title="Ghost", categories=("a",))])
    view = build_view(store, now_ms=T0, window_days=30, half_life_days=30, actors_per_client=3)
    assert [item for item, _ in view.popular] == ["ghost", "real"]  # described: its 50 actors count
    assert [item for item, _ in view.trending("a", 5)] == ["ghost", "real"]


def test_the_cap_applies_within_the_window(store: FalkorDBStore) -> None:
    store.upsert_items([ItemRecord("a"), ItemRecord("b")])
    old = T0 - 60 * DAY_MS
    store.upsert_interactions(
        [replace(delta(f"old{k}", "a", ts=old), client="c1") for k in range(5)]  # outside the window
        + [replace(delta(f"new{k}", "a", ts=T0), client="c1") for k in range(5)]
        + [replace(delta(f"v{k}", "b", ts=T0), client=f"c-{k}") for k in range(4)]
    )
    view = build_view(store, now_ms=T0, window_days=30, half_life_days=30, actors_per_client=3)
    assert view.popular == (("b", 4.0), ("a", 3.0))


def test_an_items_trusted_edges_count_while_it_is_provisional(store: FalkorDBStore) -> None:
    # an events-only import (or the shop's backend with a secret key) describes no item, yet its lists
    # must not come back empty: trusted senders' edges count; a browser's for the same item do not
    store.upsert_interactions(
        [delta(f"u{k}", "imported", ts=T0 - DAY_MS) for k in range(3)]
        + [replace(delta(f"b{k}", "pushed", ts=T0 - DAY_MS), client=f"c{k}") for k in range(9)]
        + [replace(delta("b0", "imported", ts=T0 - DAY_MS), client="c0")]
    )
    view = build_view(store, now_ms=T0, window_days=30, half_life_days=30, actors_per_client=3)
    assert [item for item, _ in view.popular] == ["imported"]
    assert dict(view.popular)["imported"] == pytest.approx(3 * 0.5 ** (1 / 30))  # the browser's edge: no
