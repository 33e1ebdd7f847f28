"""The closed set of behaviour event types, and which of them carry a value (shared kernel: the graph
schema, the ingest pipeline and the importers all derive from it, so it sits below them all).

Edge properties are derived from these names (``n_<type>`` counts, ``s_<type>`` value sums), so the
set is fixed in code: Cypher property names are never built from user input.

Besides them, :data:`CUSTOM_TYPE`: an event of the shop's own ``name`` (``wishlist_add``). It is not an
:class:`EventType` on purpose: it names no edge property and never becomes an edge; it is validated,
de-duplicated and kept in the event log (see ``graphrec.events.schema``).
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    VIEW = "view"
    CLICK = "click"
    HOVER = "hover"
    SCROLL = "scroll"
    DWELL = "dwell"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    RATING = "rating"
    LIKE = "like"
    SHARE = "share"
    VIDEO_PLAY = "video_play"
    DISLIKE = "dislike"


EVENT_TYPES: tuple[str, ...] = tuple(t.value for t in EventType)

CUSTOM_TYPE = "custom"

# Types whose events carry a numeric value, with its unit and valid closed range.
VALUED_TYPES: dict[str, tuple[str, float, float]] = {
    EventType.DWELL.value: ("seconds", 0.0, 86_400.0),
    EventType.SCROLL.value: ("depth fraction", 0.0, 1.0),
    EventType.RATING.value: ("stars", 1.0, 5.0),
    EventType.VIDEO_PLAY.value: ("seconds", 0.0, 86_400.0),
}

COUNT_PROPS: tuple[str, ...] = tuple(f"n_{t}" for t in EVENT_TYPES)
SUM_PROPS: tuple[str, ...] = tuple(f"s_{t}" for t in VALUED_TYPES)
