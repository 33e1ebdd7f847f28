"""New arrivals: the catalogue's items by when a catalogue first described them, newest first.

The first-listed time is stamped by the store when a catalogue upsert or import first describes an
item (creates it, or describes one an event created) and never moved (``GraphStore.replace_items``);
the catalogue view carries it (:attr:`CatalogView.newest`). Items without one are no new arrivals and
are left out rather than listed last: items only events created (provisional), and items described
before first-listed times were kept, whose age is unknown (listed last, they would fill the list with
arbitrary old items once the new ones ran out; a later upsert does not stamp them either).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from graphrec.recommend.filters import ListFilter
from graphrec.recommend.popular import CatalogView


@dataclass(frozen=True, slots=True)
class Arrival:
    """One listed item and when a catalogue first described it (epoch ms)."""

    item_id: str
    listed_ms: int


def new_arrivals(view: CatalogView, filters: ListFilter, *, k: int, leave_out: Container[str]) -> list[Arrival]:
    """The ``k`` most recently listed items within ``filters`` (availability included), none in ``leave_out``."""
    out: list[Arrival] = []
    for item_id in view.newest:
        if item_id in leave_out or not filters.admits(view, item_id):
            continue
        out.append(Arrival(item_id, view.listed[item_id]))
        if len(out) == k:
            break
    return out


def newest_listed(view: CatalogView, filters: ListFilter) -> int | None:
    """When the list's first item was listed (a score's reference: it must not move between pages)."""
    first = new_arrivals(view, filters, k=1, leave_out=())
    return first[0].listed_ms if first else None
