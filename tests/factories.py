"""Small builders for graph test data."""

from __future__ import annotations

from graphrec import clock
from graphrec.clock import DAY_MS
from graphrec.graph.records import InteractionDelta

__all__ = ["DAY_MS", "T0", "delta", "event"]

T0 = 1_700_000_000_000


def delta(
    user: str,
    item: str,
    weight: float = 1.0,
    *,
    ts: int = T0,
    count: int = 1,
    types: dict[str, int] | None = None,
    sums: dict[str, float] | None = None,
    last_ts: int | None = None,
) -> InteractionDelta:
    return InteractionDelta(
        user_id=user,
        item_id=item,
        weight=weight,
        count=count,
        first_ts=ts,
        last_ts=ts if last_ts is None else last_ts,
        type_counts=types or {"view": count},
        value_sums=sums or {},
    )


def event(
    event_id: str,
    *,
    item_id: str,
    type: str,
    user_id: str | None = None,  # noqa: A002 - the field's name
    anonymous_id: str | None = None,
    value: float | None = None,
    ts: int | None = None,
) -> dict[str, object]:
    """One behaviour event as a client sends it (``POST /v1/events``), stamped a second ago by default."""

    body: dict[str, object] = {
        "event_id": event_id,
        "item_id": item_id,
        "type": type,
        "timestamp": ts if ts is not None else clock.now_ms() - 1_000,
    }
    if user_id is not None:
        body["user_id"] = user_id
    if anonymous_id is not None:
        body["anonymous_id"] = anonymous_id
    if value is not None:
        body["value"] = value
    return body
