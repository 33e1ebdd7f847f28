"""Cleaning before weighting: per-event value caps, burst collapsing, the bot guard, the dwell cap.

* **Bursts**: events identical in (actor, item, type, value) closer than ``burst_window_ms`` to the
  last counted one (double clicks, tracker retries with new ids) count once. Applied within a batch.
* **Bot guard**: an actor with more than ``max_per_minute`` events in one calendar minute (by event
  time, counting this batch plus what this process applied recently) is flagged: all of its events
  in the batch are dropped and the actor is reported.
* **Dwell cap**: a store-wide robust outlier bound, ``Q3 + k * IQR`` over the per-edge mean dwell
  (Tukey's far-out fence), kept in ``(:Meta {key: "events.dwell_cap_s"})``; every dwell value is
  clipped to it before it is summed, so ``s_dwell`` holds capped seconds.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from graphrec.events.policy import DWELL_CAP_META_KEY, WeightPolicy
from graphrec.graph.port import GraphStore

logger = logging.getLogger(__name__)

MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class CleanEvent:
    """A validated event in store terms: actor is the graph user id, value already capped."""

    index: int
    key: str
    event_id: str
    actor: str
    item_id: str
    type: str
    ts: int
    value: float | None
    session_id: str | None = None  # context: kept for the event log, not for the edges
    device: str | None = None
    section: str | None = None
    recommendation_id: str | None = None
    fingerprint: str | None = None  # the client's content (graphrec.events.idempotency), None: unknown


def event_key(actor: str, event_id: str) -> str:
    """Duplicate-detection key: event ids are scoped to their actor (length-prefixed, unambiguous)."""
    return f"{len(actor)}:{actor}:{event_id}"


def collapse_bursts(events: Sequence[CleanEvent], window_ms: int) -> tuple[list[CleanEvent], list[CleanEvent]]:
    """Split into (counted, collapsed): identical events within ``window_ms`` of the last counted one."""
    if window_ms <= 0:
        return list(events), []
    last: dict[tuple[str, str, str, float | None], int] = {}
    counted: list[CleanEvent] = []
    collapsed: list[CleanEvent] = []
    for ev in sorted(events, key=lambda e: (e.ts, e.index)):
        sig = (ev.actor, ev.item_id, ev.type, ev.value)
        prev = last.get(sig)
        if prev is not None and ev.ts - prev < window_ms:
            collapsed.append(ev)
            continue
        last[sig] = ev.ts
        counted.append(ev)
    counted.sort(key=lambda e: e.index)
    return counted, collapsed


class ActivityTracker:
    """Recent applied-event counts per (actor, minute) for the bot guard; bounded, thread-safe.

    One per pipeline (so per process), never a module global. Counts are per calendar minute of
    event time; the least recently touched entries are evicted beyond ``max_entries``.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self._counts: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, actor: str, minute: int) -> int:
        with self._lock:
            return self._counts.get((actor, minute), 0)

    def add(self, events: Iterable[CleanEvent]) -> None:
        with self._lock:
            for ev in events:
                k = (ev.actor, ev.ts // MINUTE_MS)
                self._counts[k] = self._counts.get(k, 0) + 1
                self._counts.move_to_end(k)
            while len(self._counts) > self._max:
                self._counts.popitem(last=False)


def bot_guard(
    events: Sequence[CleanEvent], *, max_per_minute: int, tracker: ActivityTracker
) -> tuple[list[CleanEvent], list[CleanEvent], list[str]]:
    """Split into (kept, dropped, flagged actors): actors over ``max_per_minute`` in any minute lose
    all of their events in this batch."""
    per_minute: dict[tuple[str, int], int] = defaultdict(int)
    for ev in events:
        per_minute[(ev.actor, ev.ts // MINUTE_MS)] += 1
    flagged = sorted(
        {actor for (actor, minute), n in per_minute.items() if n + tracker.get(actor, minute) > max_per_minute}
    )
    if not flagged:
        return list(events), [], []
    bad = set(flagged)
    logger.warning(
        "bot guard: %d actor(s) above %d events/minute; their events are dropped",
        len(flagged),
        max_per_minute,
    )
    kept = [ev for ev in events if ev.actor not in bad]
    dropped = [ev for ev in events if ev.actor in bad]
    return kept, dropped, flagged


def robust_dwell_cap(mean_dwell_s: np.ndarray, policy: WeightPolicy) -> float:
    """``Q3 + k * IQR`` of per-edge mean dwell seconds, clamped to the policy's bounds; the static cap
    when there are fewer than ``min_samples`` values."""
    d = policy.dwell
    values = np.asarray(mean_dwell_s, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < d.min_samples:
        return d.static_cap_s
    q1, q3 = np.percentile(values, [25, 75])
    cap = float(q3 + d.iqr_k * (q3 - q1))
    return float(min(max(cap, d.min_cap_s), d.max_cap_s))


def update_dwell_cap(store: GraphStore, policy: WeightPolicy, *, page_size: int = 50_000) -> float:
    """Recompute the store-wide dwell cap from every edge's mean dwell and save it in ``(:Meta)``."""
    means: list[float] = []
    for page in store.iter_interaction_aggregates(page_size=page_size):
        for e in page:
            n = e.type_counts.get("dwell", 0)
            if n > 0:
                means.append(e.value_sums.get("dwell", 0.0) / n)
    cap = robust_dwell_cap(np.asarray(means), policy)
    store.set_meta(key=DWELL_CAP_META_KEY, value=repr(cap))
    logger.info("dwell cap set to %.1f s from %d edges", cap, len(means))
    return cap
