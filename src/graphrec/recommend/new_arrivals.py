"""New arrivals: the catalogue's items by when a catalogue first described them, newest first.

The first-listed time is stamped by the store when a catalogue upsert or import first describes an
item (creates it, or describes one an event created) and never moved (``GraphStore.replace_items``);
the catalogue view carries it (:attr:`CatalogView.newest`). Items without one are no new arrivals and
are left out rather than listed last: items only events created (provisional), and items described
before first-listed times were kept, whose age is unknown (listed last, they would fill the list with
arbitrary old items once the new ones ran out; a later upsert does not stamp them either).
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass

from graphrec.clock import decayed_weight
from graphrec.recommend.filters import ListFilter
from graphrec.recommend.popular import CatalogView


@dataclass(frozen=True, slots=True)
class Arrival:
    """One listed item, when a catalogue first described it (epoch ms), and its recency score: ``0.5 **
    (age / half_life)``, the age counted from the list's newest item (1 for that one, on every page)."""

    item_id: str
    listed_ms: int
    score: float


def new_arrivals(
    view: CatalogView, filters: ListFilter, *, k: int, leave_out: Container[str], half_life_days: float
) -> list[Arrival]:
    """The ``k`` most recently listed items within ``filters`` (availability included), none in ``leave_out``."""
    listed = list(_admitted(view, filters, leave_out, k))
    if not listed:
        return []
    newest = view.listed[next(_admitted(view, filters, (), 1))]  # the list's first item, whatever the page
    return [
        Arrival(
            i,
            view.listed[i],
            round(decayed_weight(1.0, view.listed[i], now_ms=newest, half_life_days=half_life_days), 6),
        )
        for i in listed
    ]


def _admitted(view: CatalogView, filters: ListFilter, leave_out: Container[str], k: int) -> Iterator[str]:
    """The first ``k`` items of the newest-first order that the list may show."""
    found = 0
    for item_id in view.newest:
        if item_id in leave_out or not filters.admits(view, item_id):
            continue
        yield item_id
        found += 1
        if found == k:
            return
