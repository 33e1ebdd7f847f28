"""The session-based candidate source for anonymous visitors (issue 16, point 4): the tail of the list goes to
trending items of the likely next categories, in proportion, never a seen or left-out item; and the API uses it
for an anonymous visitor once the next-category model has transitions from the visitor's category."""

from __future__ import annotations

import numpy as np

from graphrec.graph.records import UserHistory
from graphrec.recommend.paging import LeaveOut
from graphrec.recommend.popular import CatalogView
from graphrec.recommend.ranking import RecItem, RecRequest, RecResult, mix_session_candidates


def _view() -> CatalogView:
    cats = {f"{c}{n}": (c,) for c in "ABC" for n in range(6)}
    by_cat = {c: tuple((f"{c}{n}", 10.0 - n) for n in range(6)) for c in "ABC"}
    return CatalogView(
        titles={i: i for i in cats}, categories=cats, category_names=frozenset("ABC"), popular_by_category=by_cat
    )


def _history(*items: str) -> UserHistory:
    return UserHistory(list(items), np.ones(len(items)), np.zeros(len(items), np.int64))


def _result(n: int) -> RecResult:
    items = [RecItem(f"A{j}", f"A{j}", round(1.0 - 0.05 * j, 6), "graph") for j in range(n)]
    return RecResult(items, None, False, False, "graph", {"graph": n})


def test_the_tail_goes_to_the_likely_next_categories_in_proportion() -> None:
    req = RecRequest("anon:v", k=8, explain=True, leave_out=LeaveOut(ids=frozenset({"B0"})))
    out = mix_session_candidates(
        _result(8), req, _history("C0", "A9"), _view(), [("B", 0.6), ("C", 0.4)], current=("A",)
    )
    assert [i.item_id for i in out.items[:6]] == [f"A{j}" for j in range(6)]
    tail = out.items[6:]
    assert [i.source for i in tail] == ["session", "session"]
    assert [i.item_id for i in tail] == ["B1", "C1"]  # B0 left out by the page, C0 already seen
    assert all(t.score < out.items[5].score for t in tail) and tail[0].score > tail[1].score
    assert "go on to B" in tail[0].reasons[0] and out.source_mix == {"graph": 6, "session": 2}


def test_no_session_items_under_a_category_filter_or_for_a_long_history() -> None:
    view, prediction = _view(), [("B", 1.0)]
    filtered = RecRequest("anon:v", k=8, category="A")
    assert mix_session_candidates(_result(8), filtered, _history("A9"), view, prediction) == _result(8)
    long = _history(*(f"x{j}" for j in range(21)))
    assert mix_session_candidates(_result(8), RecRequest("anon:v", k=8), long, view, prediction) == _result(8)
