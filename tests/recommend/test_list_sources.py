"""The new lists' pure parts (issue 28, point 5): the bought-together index (distinct shoppers, the
per-client cap, a cart's merge), recently viewed and new arrivals, each within the list filters and
never listing an unavailable item."""

from __future__ import annotations

import numpy as np

from factories import T0
from graphrec.graph.records import CatalogueItem, InteractionPage, UserHistory
from graphrec.recommend import explain
from graphrec.recommend.bought_together import BoughtTogetherIndex, Together, pick
from graphrec.recommend.filters import ListFilter
from graphrec.recommend.new_arrivals import new_arrivals
from graphrec.recommend.paging import LeaveOut
from graphrec.recommend.popular import CatalogView
from graphrec.recommend.recently_viewed import Viewed, recently_viewed

NO_FILTER = ListFilter()
HALF = 1e-7  # days: a half-life of 8.64 ms, so edges milliseconds apart score apart


def _edges(rows: list[tuple[str, str]], *, client: str = "", weight: float = 1.0, ts: int = T0) -> InteractionPage:
    """(actor, item) basket edges, all with one sender, weight and time."""
    return InteractionPage(
        np.array([a for a, _ in rows], dtype=object),
        np.array([i for _, i in rows], dtype=object),
        np.full(len(rows), weight),
        np.full(len(rows), ts, dtype=np.int64),
        np.array([client] * len(rows), dtype=object),
    )


def _index(edges: InteractionPage, **kwargs: int) -> BoughtTogetherIndex:
    cap = kwargs.pop("actors_per_client", 3)
    return BoughtTogetherIndex.build(edges, built_ms=T0, actors_per_client=cap, **kwargs)


def _view(*items: CatalogueItem) -> CatalogView:
    return CatalogView().with_items(list(items))


def _ranked(index: BoughtTogetherIndex, *anchors: str) -> list[tuple[str, int]]:
    r = index.ranked(list(anchors))
    return list(zip(r.ids, r.shoppers, strict=True))


def test_co_occurrence_counts_distinct_shoppers_most_first_ties_by_id() -> None:
    baskets = {"s1": "mug tea spoon", "s2": "mug tea", "s3": "mug spoon cake", "s4": "tea cake"}
    index = _index(_edges([(s, i) for s, items in baskets.items() for i in items.split()]))
    assert _ranked(index, "mug") == [("spoon", 2), ("tea", 2), ("cake", 1)]
    assert _ranked(index, "tea") == [("mug", 2), ("cake", 1), ("spoon", 1)]
    assert _ranked(index, "nothing-bought") == []
    assert index.has_any(["mug"]) and not index.has_any(["nothing-bought"])
    # a shopper who bought one item alone makes no pair
    alone = _index(_edges([("s9", "lonely")]))
    assert not alone.has_any(["lonely"]) and _ranked(alone, "lonely") == []


def test_each_item_keeps_its_top_neighbours_only() -> None:
    rows = [(f"s{n}", "anchor") for n in range(6)] + [(f"s{n}", f"c{k}") for n in range(6) for k in range(n)]
    index = _index(_edges(rows), neighbours=2)
    # c0 was bought with the anchor by 5 shoppers (s1..s5), c1 by 4, ...
    assert _ranked(index, "anchor") == [("c0", 5), ("c1", 4)]
    assert index.pairs == 2 * len({i for _, i in rows})  # every item keeps at most 2


def test_one_client_counts_at_most_its_cap_of_shoppers_towards_a_pair() -> None:
    # a script behind one address invents 50 shoppers who all buy the pair; three real ones buy another
    script = _edges([(f"bot{n}", i) for n in range(50) for i in ("mug", "scam")], client="c-script")
    real = InteractionPage.concat(
        [_edges([(f"real{n}", "mug"), (f"real{n}", "tea")], client=f"c-home{n}") for n in range(3)]
    )
    index = _index(InteractionPage.concat([script, real]), actors_per_client=2)
    assert _ranked(index, "mug") == [("tea", 3), ("scam", 2)]
    # trusted senders (a shop's backend, an import: no client) are not capped
    trusted = _edges([(f"u{n}", i) for n in range(50) for i in ("mug", "pot")])
    assert _ranked(_index(trusted, actors_per_client=2), "mug") == [("pot", 50)]


def test_disliked_edges_do_not_count_and_an_actors_basket_is_its_most_recent_items() -> None:
    liked = _edges([("s1", "mug"), ("s1", "tea"), ("s2", "mug"), ("s2", "tea")])
    disliked = _edges([("s3", "mug"), ("s3", "tea")], weight=-1.0)
    assert _ranked(_index(InteractionPage.concat([liked, disliked])), "mug") == [("tea", 2)]
    # a wholesale basket: only its 2 most recent items count
    old = _edges([("bulk", "mug"), ("bulk", "old")], ts=T0 - 10)
    new = _edges([("bulk", "tea"), ("bulk", "pot")], ts=T0)
    recent_only = _index(InteractionPage.concat([old, new]), items_per_actor=2)
    assert _ranked(recent_only, "tea") == [("pot", 1)] and _ranked(recent_only, "mug") == []


def test_a_cart_adds_up_its_items_shoppers_leaves_its_items_out_and_keeps_the_evidence() -> None:
    baskets = {"s1": "mug tea spoon", "s2": "mug spoon", "s3": "tea spoon", "s4": "tea cake", "s5": "mug cake"}
    index = _index(_edges([(s, i) for s, items in baskets.items() for i in items.split()]))
    ranked = index.ranked(["mug", "tea", "mug", "unknown"])
    assert list(zip(ranked.ids, ranked.shoppers, strict=True)) == [("spoon", 4), ("cake", 2)]
    assert ranked.evidence("spoon") == (("mug", 2), ("tea", 2))
    assert ranked.evidence("cake") == (("mug", 1), ("tea", 1))


def test_pick_applies_the_filters_availability_and_the_left_out_items() -> None:
    rows = [(f"s{n}", i) for n in range(4) for i in ("mug", "a", "b", "c", "d")][:-1]  # s3 did not buy d
    index = _index(_edges(rows))
    view = _view(
        CatalogueItem("a", "A", ("Kitchen",), price=5.0),
        CatalogueItem("b", "B", ("Kitchen",), price=5.0, available=False),
        CatalogueItem("c", "C", ("Garden",), price=5.0),
        CatalogueItem("d", "D", ("Kitchen",), price=50.0),
    )
    ranked = index.ranked(["mug"])
    assert [t.item_id for t in pick(ranked, view, NO_FILTER, k=10, leave_out=())] == ["a", "c", "d"]  # b: sold out
    kitchen = ListFilter("Kitchen", price_max=10.0)
    assert pick(ranked, view, kitchen, k=10, leave_out=()) == [Together("a", 4, (("mug", 4),))]
    assert [t.item_id for t in pick(ranked, view, NO_FILTER, k=1, leave_out=LeaveOut(ids=frozenset({"a"})))] == ["c"]


def test_an_empty_basket_read_builds_an_empty_index() -> None:
    index = _index(InteractionPage.concat([]))
    assert index.pairs == 0 and _ranked(index, "x") == [] and index.built_ms == T0


def test_recently_viewed_is_newest_first_positive_only_and_filtered() -> None:
    history = UserHistory(
        ["d", "gone", "hated", "c", "b", "a"],
        np.array([1.0, 1.0, -1.0, 0.1, 2.0, 1.0]),
        np.array([T0, T0 - 1, T0 - 2, T0 - 3, T0 - 4, T0 - 5], dtype=np.int64),
    )
    view = _view(
        CatalogueItem("gone", available=False),
        CatalogueItem("a", categories=("x",)),
        CatalogueItem("b", categories=("y",)),
        CatalogueItem("c", categories=("x",)),
    )
    all_ = recently_viewed(history, view, NO_FILTER, k=10, leave_out=(), half_life_days=HALF)
    assert [v.item_id for v in all_] == ["d", "c", "b", "a"]  # no unavailable, no disliked item
    assert all_[0] == Viewed("d", T0, 1.0)  # the newest scores 1, older ones less
    assert 0 < all_[-1].score < all_[0].score
    x = ListFilter("x")
    assert [
        v.item_id
        for v in recently_viewed(history, view, x, k=1, leave_out=LeaveOut(ids=frozenset({"c"})), half_life_days=HALF)
    ] == ["a"]


def test_new_arrivals_are_newest_listed_first_without_unlisted_or_unavailable_items() -> None:
    view = CatalogView(listed={"old": T0 - 10, "new": T0, "tie-b": T0 - 5, "tie-a": T0 - 5, "gone": T0 + 1})
    view = view.with_items(
        [CatalogueItem("gone", available=False), CatalogueItem("unlisted", "U"), CatalogueItem("old", price=3.0)]
    )
    assert view.newest == ("gone", "new", "tie-a", "tie-b", "old")
    assert [a.item_id for a in new_arrivals(view, NO_FILTER, k=10, leave_out=(), half_life_days=HALF)] == [
        "new",
        "tie-a",
        "tie-b",
        "old",
    ]
    priced = new_arrivals(view, ListFilter(price_min=1.0), k=10, leave_out=(), half_life_days=HALF)
    assert [(a.item_id, a.listed_ms, a.score) for a in priced] == [("old", T0 - 10, 1.0)]  # the list's newest
    # a later page scores against the list's first item, not its own
    (second,) = new_arrivals(view, NO_FILTER, k=1, leave_out=LeaveOut(ids=frozenset({"new"})), half_life_days=HALF)
    assert second.item_id == "tie-a" and second.score < 1.0
    # an upsert lists the items the view did not know at its time; a known item keeps its own (or none)
    later = view.with_items(
        [CatalogueItem("fresh"), CatalogueItem("unlisted"), CatalogueItem("old")],
        listed={
            "fresh": T0 + 5,
            "unlisted": T0 + 5,
            "old": T0 + 5,
        },
    )
    assert later.newest == ("fresh", "gone", "new", "tie-a", "tie-b", "old")


def test_reasons_name_the_evidence_and_the_age_in_words() -> None:
    titles = {"mug": "Blue mug"}.get
    assert explain.bought_together_reason("mug", 3, titles) == "bought together with 'Blue mug' by 3 shoppers"
    assert explain.bought_together_reason("x", 1, titles) == "bought together with item x by 1 shopper"
    assert explain.recently_viewed_reason(30_000) == "you viewed this just now"
    assert explain.recently_viewed_reason(5 * 60_000 + 1) == "you viewed this 5 minutes ago"
    assert explain.new_arrival_reason(86_400_000) == "new in the catalogue: listed 1 day ago"
    assert explain.ago(-5) == "just now" and explain.ago(2 * 3_600_000) == "2 hours ago"
