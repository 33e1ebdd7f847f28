"""What a list may show (``graphrec.recommend.filters``): never an unavailable item, only what the
category and price filters admit, in every list the ranking builds (issue 28, point 1)."""

from __future__ import annotations

import numpy as np

from graphrec.graph.records import CatalogueItem, UserHistory
from graphrec.model.blend_tuning import HistoryWeights
from graphrec.recommend.cograph import GraphCandidates
from graphrec.recommend.filters import ListFilter
from graphrec.recommend.popular import CatalogView
from graphrec.recommend.ranking import Candidates, RecRequest, rank_candidates

ITEMS = [f"i{n}" for n in range(12)]


def _view() -> CatalogView:
    """Twelve items, even ones in "even", priced 10 * n but i11 (no price), trending in id order."""
    ranked = tuple((i, 12.0 - n) for n, i in enumerate(ITEMS))
    by_category = {"even": ranked[0::2], "odd": ranked[1::2]}
    view = CatalogView(popular=ranked, popular_by_category=by_category, built_ms=1)
    parity = ("even", "odd")
    return view.with_items(
        [
            CatalogueItem(i, title=i, categories=(parity[n % 2],), price=None if n == 11 else 10.0 * n)
            for n, i in enumerate(ITEMS)
        ]
    )


def _out_of_stock(view: CatalogView, *ids: str) -> CatalogView:
    return view.with_items([CatalogueItem(i, title=i, available=False) for i in ids])


def _candidates(emb: list[str], graph: list[str]) -> Candidates:
    """Embedding and graph candidates, best first, for a user with no history."""
    scores = lambda ids: np.linspace(1.0, 0.5, len(ids)) if ids else np.zeros(0)  # noqa: E731
    return Candidates(
        history=UserHistory.empty(),
        seen=frozenset(),
        limit=50,
        emb_ids=np.array(emb, dtype=str),
        emb_scores=scores(emb),
        graph=GraphCandidates(np.array(graph, dtype=str), scores(graph), lambda _item: ()),
        neighbours=None,
        personalised="graph",
        seen_idx=np.zeros(0, dtype=np.int64),
        seen_ids_known=[],
        degraded=False,
    )


def test_an_unavailable_item_is_in_no_list_and_comes_back_when_available_again() -> None:
    view = _out_of_stock(_view(), "i0", "i3")
    assert not view.listable("i0") and view.listable("i1")
    assert [i for i, _ in view.trending(None, 3)] == ["i1", "i2", "i4"]
    back = view.with_items([CatalogueItem("i0", title="i0", available=True)])
    assert back.listable("i0") and not back.listable("i3")
    assert [i for i, _ in back.trending(None, 2)] == ["i0", "i1"]


def test_the_filter_admits_by_availability_category_and_price() -> None:
    view = _out_of_stock(_view(), "i4")
    assert ListFilter().admits(view, "i11") and not ListFilter().admits(view, "i4")
    assert ListFilter(category="even").admits(view, "i2") and not ListFilter(category="even").admits(view, "i3")
    in_range = ListFilter(price_min=20.0, price_max=50.0)
    assert [i for i in ITEMS if in_range.admits(view, i)] == ["i2", "i3", "i5"]  # i4 is out of stock
    assert not ListFilter(price_min=0.0).admits(view, "i11")  # no price: not provably in range
    assert ListFilter(price_max=0.0).admits(view, "i0")  # bounds are inclusive


def test_a_ranked_list_leaves_out_unavailable_items_and_still_fills_k() -> None:
    view = _out_of_stock(_view(), "i1", "i6")
    cands = _candidates(emb=["i1", "i2", "i3", "i4"], graph=["i6", "i5", "i7", "i8"])
    result = rank_candidates(RecRequest("u", k=5), cands, HistoryWeights(0.5), state=None, view=view, now_ms=1)
    listed = [i.item_id for i in result.items]
    assert len(listed) == 5 and not {"i1", "i6"} & set(listed)


def test_a_ranked_list_keeps_only_what_the_price_range_admits() -> None:
    cands = _candidates(emb=["i1", "i2", "i3", "i9"], graph=["i11", "i5", "i7", "i8"])
    req = RecRequest("u", k=10, price_min=25.0, price_max=75.0)
    result = rank_candidates(req, cands, HistoryWeights(0.5), state=None, view=_view(), now_ms=1)
    assert sorted(i.item_id for i in result.items) == ["i3", "i5", "i7"]


def test_the_trending_fallback_applies_the_same_filters() -> None:
    view = _out_of_stock(_view(), "i2")
    req = RecRequest("u", k=3, category="even", price_max=60.0)
    result = rank_candidates(req, _candidates([], []), HistoryWeights(0.5), state=None, view=view, now_ms=1)
    assert result.cold_start and [i.item_id for i in result.items] == ["i0", "i4", "i6"]


def test_attribute_filters_need_every_named_value() -> None:
    view = _view().with_items(
        [
            CatalogueItem("i1", title="i1", attributes=(("brand", "acme"), ("size", "m"))),
            CatalogueItem("i2", title="i2", attributes=(("brand", "acme"),)),
        ]
    )
    acme = ListFilter(attributes=(("brand", "acme"),))
    assert [i for i in ITEMS if acme.admits(view, i)] == ["i1", "i2"]
    assert [i for i in ITEMS if ListFilter(attributes=(("brand", "acme"), ("size", "m"))).admits(view, i)] == ["i1"]
    assert not ListFilter(attributes=(("brand", "other"),)).admits(view, "i1")
    assert acme.narrows and acme.by_item and acme.identity() != ListFilter().identity()
