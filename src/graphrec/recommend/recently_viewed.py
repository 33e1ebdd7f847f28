"""Recently viewed: an actor's most recently touched items, newest first, as the store's history has them.

What counts: every edge of the actor (a user, or an anonymous visitor's node) with a positive weight,
ordered by its ``last_ts``: a view, a click, a cart, a purchase; a disliked item is left out. The read is
the serving history read (``GraphStore.user_history``), cut at :data:`HISTORY_DEPTH` edges, so a list
reaches back at most that far before the filters apply. The list is the actor's own history, so the API
lets a publishable key read a user's only with that user's token.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from graphrec.clock import decayed_weight
from graphrec.graph.records import UserHistory
from graphrec.recommend.filters import ListFilter
from graphrec.recommend.paging import MAX_DEPTH
from graphrec.recommend.popular import CatalogView

HISTORY_DEPTH = MAX_DEPTH
"""The actor's most recent edges a recently-viewed list reads: as many as a list's pages serve."""


@dataclass(frozen=True, slots=True)
class Viewed:
    """One listed item, when the actor last touched it (epoch ms), and its recency score: ``0.5 **
    (age / half_life)``, the age counted from the actor's newest edge (1 for the newest item)."""

    item_id: str
    viewed_ms: int
    score: float


def recently_viewed(
    history: UserHistory,
    view: CatalogView,
    filters: ListFilter,
    *,
    k: int,
    leave_out: Container[str],
    half_life_days: float,
) -> list[Viewed]:
    """The ``k`` most recent positive edges of ``history`` (newest first, as the store returns them)
    whose items the list may show: within ``filters`` (availability included), not in ``leave_out``."""
    out: list[Viewed] = []
    newest = int(history.last_ts.max()) if len(history) else 0
    for item_id, weight, last_ts in zip(
        history.item_ids, history.weights.tolist(), history.last_ts.tolist(), strict=True
    ):
        if weight <= 0 or item_id in leave_out or not filters.admits(view, item_id):
            continue
        score = decayed_weight(1.0, int(last_ts), now_ms=newest, half_life_days=half_life_days)
        out.append(Viewed(item_id, int(last_ts), round(score, 6)))
        if len(out) == k:
            break
    return out
