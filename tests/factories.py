"""Small builders for graph test data."""

from __future__ import annotations

from graphrec.graph.records import InteractionDelta

DAY_MS = 86_400_000
T0 = 1_700_000_000_000


def delta(user: str, item: str, weight: float = 1.0, *, ts: int = T0, count: int = 1,
          types: dict[str, int] | None = None, sums: dict[str, float] | None = None,
          last_ts: int | None = None) -> InteractionDelta:
    return InteractionDelta(user_id=user, item_id=item, weight=weight, count=count, first_ts=ts,
                            last_ts=ts if last_ts is None else last_ts,
                            type_counts=types or {"view": count}, value_sums=sums or {})
