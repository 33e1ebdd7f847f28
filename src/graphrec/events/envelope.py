"""The wire format of an event on the Kafka topic: a versioned JSON envelope around one validated event.

Why an envelope and a version: the API that produces and the ``graphrec consume`` workers that apply are
deployed separately, so a message may be read by code older or newer than the code that wrote it. Each
message carries ``schema`` (an integer) beside the event, the client it came from (trending counts actors
per client, see :mod:`graphrec.events.clients`) and the moment the API accepted it (the consumer validates
the event again against that moment, not its own clock, so a backlog never turns good events into
"too far in the future" or the reverse).

Evolution rule: every change of the envelope or of the event's fields bumps :data:`SCHEMA_VERSION`; a
consumer keeps a reader for every version it ever accepted, and consumers are upgraded before producers.
A consumer that meets a version it does not know cannot apply it: the message goes to the dead-letter topic
with that reason (:class:`Undeliverable`), from where it can be replayed once the consumers are upgraded.

Version 1::

    {"schema": 1, "accepted_ms": <epoch ms>, "client": "<client id>", "event": {<EventIn, as JSON>}}

Version 2 (written now): the same envelope; the event may also carry a purchase's ``price``, ``currency``,
``quantity`` and ``order_id``, or be a ``custom`` event (``name``, ``properties``, ``item_id`` optional).
A version-1 message never holds those (the API of its day refused them), so its reader refuses them.

One message per event, keyed by the event's actor (``user_id``, or ``anon:<anonymous_id>``): Kafka keeps one
key in one partition, so one actor's events are applied in the order they were accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from graphrec.event_types import CUSTOM_TYPE
from graphrec.events.schema import CUSTOM_FIELDS, PURCHASE_FIELDS, EventIn, EventValidationError, validate_event

SCHEMA_VERSION: Final = 2
KNOWN_VERSIONS: Final = frozenset({1, 2})
_V2_FIELDS: Final = (*PURCHASE_FIELDS, *CUSTOM_FIELDS)


class Undeliverable(Exception):
    """A message that can never be applied (not JSON, an unknown schema version, an invalid event)."""


@dataclass(frozen=True, slots=True)
class StreamedEvent:
    """One event as read from the topic: the validated event, who sent it, when the API accepted it."""

    event: EventIn
    client: str
    accepted_ms: int


def encode(event: EventIn, *, client: str, accepted_ms: int) -> tuple[bytes, bytes]:
    """The message (key, value) for ``event``: the key is the actor (ordering per actor), the value the
    current version's envelope."""
    body = {
        "schema": SCHEMA_VERSION,
        "accepted_ms": accepted_ms,
        "client": client,
        "event": event.model_dump(mode="json", exclude_none=True),
    }
    return event.actor.encode(), json.dumps(body, separators=(",", ":")).encode()


def decode(value: bytes | None, *, skew_ms: int) -> StreamedEvent:
    """The event a message carries, validated again as the API did; :class:`Undeliverable` with the
    reason when it can never apply."""
    if value is None:
        raise Undeliverable("empty message (no value)")
    try:
        body: Any = json.loads(value)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Undeliverable(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Undeliverable("not a JSON object")
    version = body.get("schema")
    if not isinstance(version, int) or isinstance(version, bool) or version not in KNOWN_VERSIONS:
        raise Undeliverable(f"unknown schema version {version!r}; this consumer reads {sorted(KNOWN_VERSIONS)}")
    return _read(body, version=version, skew_ms=skew_ms)


def _read(body: dict[str, Any], *, version: int, skew_ms: int) -> StreamedEvent:
    """Versions 1 and 2 share the envelope; 1 knows neither the purchase details nor custom events."""
    accepted_ms, client = body.get("accepted_ms"), body.get("client")
    if not isinstance(accepted_ms, int) or isinstance(accepted_ms, bool):
        raise Undeliverable(f"schema {version}: 'accepted_ms' must be an integer (epoch ms)")
    if not isinstance(client, str):  # "" is the trusted sender (graphrec.events.clients.TRUSTED)
        raise Undeliverable(f"schema {version}: 'client' must be a string")
    try:
        event = validate_event(body.get("event"), now_ms=accepted_ms, skew_ms=skew_ms)
    except EventValidationError as exc:
        reasons = "; ".join(f"{e.field}: {e.reason}" for e in exc.errors)
        raise Undeliverable(f"schema {version}: invalid event: {reasons}") from None
    if version == 1:
        newer = [f for f in _V2_FIELDS if getattr(event, f) is not None]
        if newer or event.type == CUSTOM_TYPE:
            raise Undeliverable(f"schema 1: invalid event: {', '.join(newer) or 'type custom'} came with schema 2")
    return StreamedEvent(event=event, client=client, accepted_ms=accepted_ms)
