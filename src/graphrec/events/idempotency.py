"""What makes a reused ``event_id`` a harmless retry or a conflict: the event's content fingerprint.

Why: an event id is an idempotency key (scoped to its actor). A client that retries sends the same
event again, and the retry must be a no-op. A client that reuses an id for *different* content has
a bug (or is replaying the wrong file); silently keeping the first content and dropping the second
hides it, so, as Stripe does with a reused idempotency key, such a batch is refused.

"Same content" is every field the client sent besides the key, after validation has normalised it:
``item_id``, ``type``, ``timestamp`` (UTC epoch ms, whichever form was sent), ``value`` (as sent,
before any policy cap, so a changed cap never turns a retry into a conflict; ``1`` and ``1.0`` are
one value) and the context (``session_id``, ``device``, ``page_section``, ``viewport``,
``recommendation_id``; an absent context, ``null`` and ``{}`` are one), and a purchase's ``price``,
``currency``, ``quantity`` and ``order_id`` or a custom event's ``name`` and ``properties`` (appended only
when present, so every event without them keeps the fingerprint it always had; a quantity of 1 and none
are one). The fingerprint is a short
hash of that, kept with the seen-event record in the store. Records written before fingerprints
existed have none: a reuse of such an id stays a duplicate, never a conflict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from graphrec.events.schema import EventIn

FINGERPRINT_BYTES = 16  # 128 bits: collisions are out of reach for a client's own ids


def fingerprint(event: EventIn) -> str:
    """The event's content fingerprint (hex): equal exactly when the normalised content is equal."""
    ctx = event.context
    context: list[object] = []
    if ctx is not None:
        vp = ctx.viewport
        context = [
            ctx.session_id,
            ctx.device,
            ctx.page_section,
            None if vp is None else [vp.width, vp.height],
            ctx.recommendation_id,
        ]
        if all(v is None for v in context):
            context = []
    value = None if event.value is None else float(event.value)
    parts: list[object] = [event.item_id, event.type, event.timestamp, value, context]
    extra = {
        "price": None if event.price is None else float(event.price),
        "currency": event.currency,
        "quantity": None if event.quantity in (None, 1) else event.quantity,
        "order_id": event.order_id,
        "name": event.name,
        "properties": event.properties or None,
    }
    extra = {k: v for k, v in extra.items() if v is not None}
    if extra:
        parts.append(extra)
    canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.blake2b(canonical.encode(), digest_size=FINGERPRINT_BYTES).hexdigest()


@dataclass(frozen=True, slots=True)
class Conflict:
    """One event of a batch whose id was already used for different content."""

    index: int
    event_id: str
    reason: str


class IdempotencyConflict(Exception):
    """Event ids reused with different content; nothing of the batch was written."""

    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        self.conflicts = sorted(conflicts, key=lambda c: c.index)
        super().__init__(f"{len(self.conflicts)} event id(s) reused with different content")


def in_batch_conflict(index: int, event_id: str, first: int) -> Conflict:
    """Event ``index`` repeats the id of event ``first`` of the same batch with other content."""
    return Conflict(
        index,
        event_id,
        f"event_id '{event_id}' is also event {first} of this batch, with "
        "different content; a retry must resend the same event, a new "
        "event needs a new event_id",
    )


def stored_conflict(index: int, event_id: str) -> Conflict:
    """Event ``index`` reuses the id of an already recorded event with other content."""
    return Conflict(
        index,
        event_id,
        f"event_id '{event_id}' was already recorded for this actor with "
        "different content; a retry must resend the same event, a new "
        "event needs a new event_id",
    )
