"""What a purchase or a custom event carries beyond the edge's fields, from the validated event to the log.

Why a module of its own: the cleaning, the pipeline and the event log all pass these along unchanged
(none of them weighs them: a purchase's price never changes its edge, and a custom event is no edge),
so they travel as two small frozen values rather than as six more columns of every event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from graphrec.event_types import CUSTOM_TYPE, EventType
from graphrec.events.schema import EventIn


@dataclass(frozen=True, slots=True)
class PurchaseDetails:
    """A purchase's price per unit (with its ISO 4217 currency), units and order; revenue = price x quantity."""

    price: float | None
    currency: str | None
    quantity: int
    order_id: str | None

    @classmethod
    def of(cls, event: EventIn) -> PurchaseDetails | None:
        """The event's details; None for a purchase that gave none (it counts one unit, no revenue) or
        for any other type."""
        if event.type != EventType.PURCHASE or (
            event.price is None and event.quantity is None and event.order_id is None
        ):
            return None
        return cls(event.price, event.currency, event.quantity or 1, event.order_id)


@dataclass(frozen=True, slots=True)
class CustomDetails:
    """A custom event's name and its properties as canonical JSON (sorted keys), None when it had none."""

    name: str
    properties: str | None

    @classmethod
    def of(cls, event: EventIn) -> CustomDetails | None:
        if event.type != CUSTOM_TYPE or event.name is None:
            return None
        props = event.properties
        text = json.dumps(props, sort_keys=True, separators=(",", ":"), ensure_ascii=False) if props else None
        return cls(event.name, text)
