"""Cleaning before weighting: per-event value caps, burst collapsing, the bot guard, the dwell cap.

* **Bursts**: events identical in (actor, item, type, value, and a purchase's or custom event's
  details) closer than ``burst_window_ms`` to the last counted one (double clicks, tracker retries with
  new ids) count once. Applied within a batch. Two lines of one order (another quantity, price or order
  id) are not identical: each counts.
* **Bot guard**: sliding windows of event time over the events this process has seen, per actor
  (:class:`BotLimits`: a rate, a view flood, repeats of one type on one item); an actor that breaks
  one is flagged: all of its events in the batch are dropped and the actor is reported with its rule.
* **Dwell cap**: a store-wide robust outlier bound, ``Q3 + k * IQR`` over the per-edge mean dwell
  (Tukey's far-out fence), kept in ``(:Meta {key: "events.dwell_cap_s"})``; every dwell value is
  clipped to it before it is summed, so ``s_dwell`` holds capped seconds.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np
import pyarrow as pa

from graphrec.event_types import CUSTOM_TYPE, EventType
from graphrec.events.details import CustomDetails, PurchaseDetails
from graphrec.events.policy import DWELL_CAP_META_KEY, WeightPolicy
from graphrec.graph.port import GraphStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CleanEvent:
    """A validated event in store terms: actor is the graph user id, value already capped."""

    index: int
    key: str
    event_id: str
    actor: str
    item_id: str  # "" only for a custom event that names no item
    type: str
    ts: int
    value: float | None
    session_id: str | None = None  # context: kept for the event log, not for the edges
    device: str | None = None
    section: str | None = None
    recommendation_id: str | None = None
    fingerprint: str | None = None  # the client's content (graphrec.events.idempotency), None: unknown
    purchase: PurchaseDetails | None = None  # for the event log only: never weighed
    custom: CustomDetails | None = None  # type "custom" only: never an edge


def event_key(actor: str, event_id: str) -> str:
    """Duplicate-detection key: event ids are scoped to their actor (length-prefixed, unambiguous)."""
    return f"{len(actor)}:{actor}:{event_id}"


def collapse_bursts(events: Sequence[CleanEvent], window_ms: int) -> tuple[list[CleanEvent], list[CleanEvent]]:
    """Split into (counted, collapsed): identical events within ``window_ms`` of the last counted one."""
    if window_ms <= 0:
        return list(events), []
    last: dict[tuple[object, ...], int] = {}
    counted: list[CleanEvent] = []
    collapsed: list[CleanEvent] = []
    for ev in sorted(events, key=lambda e: (e.ts, e.index)):
        sig = (ev.actor, ev.item_id, ev.type, ev.value, ev.purchase, ev.custom)
        prev = last.get(sig)
        if prev is not None and ev.ts - prev < window_ms:
            collapsed.append(ev)
            continue
        last[sig] = ev.ts
        counted.append(ev)
    counted.sort(key=lambda e: e.index)
    return counted, collapsed


@dataclass(frozen=True, slots=True)
class BotLimits:
    """The bot guard's three sliding-window rules (``Settings.events_*``; docs/events.md, "Bot guard").

    * ``rate``: more than ``max_per_minute`` events by one actor within any 60 s of event time;
    * ``views``: more than ``max_views_per_minute`` ``view`` events by one actor within any 60 s (a
      view flood: 500 views in 2 minutes is 250 a minute, under the rate limit, and no person reads
      two product pages a second for a minute);
    * ``repeats``: more than ``max_repeats`` events of one type on one item by one actor within any
      ``repeat_window_ms`` (300 clicks on one film), but for the types a tracker repeats by design
      (:data:`REPEAT_EXEMPT`).

    Why sliding windows: calendar-minute buckets let a burst that straddles a minute's edge pass with
    each half under the limit (700 clicks in 56 s, split 375 + 325).
    """

    max_per_minute: int = 600
    max_views_per_minute: int = 120
    max_repeats: int = 20
    repeat_window_ms: int = 600_000


REPEAT_EXEMPT: frozenset[str] = frozenset({EventType.DWELL, EventType.SCROLL, CUSTOM_TYPE})
"""Types the repeat rule leaves alone: the browser tracker reports dwell and scroll depth per item on
every heartbeat (every 10 s by default), so a reader of one long page sends dozens of each; and custom
events, whose meaning the shop decides (a "filter_applied" twenty times in ten minutes is browsing, and
they weigh no edge a repeat could inflate). They still count for the rate rule."""

_MINUTE_MS = 60_000
_VIEW, _REPEATABLE = 1, 2  # an event's kind bits in the guard's memory
_SEP = "\x1f"  # between an item and a type in the repeat rule's key: ids never hold a control character


def _group_ids(*columns: np.ndarray) -> np.ndarray:
    """A dense id per distinct row of ``columns`` (equal rows, equal ids)."""
    order = np.lexsort(columns[::-1])
    changed = np.zeros(len(order), dtype=bool)
    for col in columns:
        changed[1:] |= col[order][1:] != col[order][:-1]
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = np.cumsum(changed)
    return ids


def windows_over(
    groups: np.ndarray, times: np.ndarray, in_batch: np.ndarray, *, window_ms: int, limit: int
) -> np.ndarray:
    """Per event, whether the window ``[its time, its time + window_ms)`` holds more than ``limit``
    events of its group and at least one event of the batch (``in_batch``).

    Why windows that start at an event: the fullest window holding a batch event can always be moved
    to start at its own first event, so these are all the windows that matter. Counted without a loop:
    one sort of the events and their windows' ends by (group, time, end before event), then running
    counts of events and of batch events between each window's start and end."""
    n = len(times)
    is_event = np.concatenate([np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64)])
    order = np.lexsort((is_event, np.concatenate([times, times + window_ms]), np.concatenate([groups, groups])))
    position = np.empty(2 * n, dtype=np.int64)
    position[order] = np.arange(2 * n)
    events_before = np.concatenate([[0], np.cumsum(is_event[order])])
    batch_before = np.concatenate([[0], np.cumsum(np.concatenate([in_batch, np.zeros(n, dtype=bool)])[order])])
    start, end = position[:n], position[n:]
    held: np.ndarray = (events_before[end] - events_before[start] > limit) & (batch_before[end] > batch_before[start])
    return held


@dataclass(frozen=True, slots=True)
class BatchColumns:
    """A batch's events as the guard reads them, built once per batch (:meth:`BotGuard.columns`)."""

    actors: list[str]  # the distinct actors
    actor: np.ndarray  # int64, per event: its actor's index in ``actors``
    rows: np.ndarray  # (n, 3) int64, per event: [time in ms, hash of (item, type), kind bits _VIEW | _REPEATABLE]

    @classmethod
    def of(cls, events: Sequence[CleanEvent]) -> BatchColumns:
        """The columns of ``events``: one pass of attribute reads, the rest numpy (and pyarrow's
        dictionary encoding for the actors)."""
        encoded = pa.array([ev.actor for ev in events], type=pa.string()).dictionary_encode()
        types = np.array([ev.type for ev in events], dtype=object)
        kind = np.where(types == EventType.VIEW, _VIEW, 0)
        repeatable = np.ones(len(events), dtype=bool)
        for exempt in REPEAT_EXEMPT:
            repeatable &= types != exempt
        rows = np.column_stack(
            [
                np.array([ev.ts for ev in events], dtype=np.int64),
                np.array([hash((ev.item_id, ev.type)) for ev in events], dtype=np.int64),
                kind | np.where(repeatable, _REPEATABLE, 0),
            ]
        ).astype(np.int64)
        actor = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        return cls(encoded.dictionary.to_pylist(), actor, rows.reshape(len(events), 3))


@dataclass(frozen=True, slots=True)
class BotVerdict:
    """What the guard made of a batch: the events kept, those dropped, and each flagged actor's rule
    (``rate``, ``views`` or ``repeats``: the first one it broke, in that order). ``batch``: the events
    as the guard read them, which :meth:`BotGuard.record` remembers once the batch was written."""

    kept: list[CleanEvent]
    dropped: list[CleanEvent]
    flagged: dict[str, str]
    batch: BatchColumns


@dataclass(frozen=True, slots=True)
class _Columns:
    """A batch's events after the remembered events of their actors, as columns (``in_batch``: the
    batch's own)."""

    actors: list[str]
    actor: np.ndarray
    ts: np.ndarray
    pair: np.ndarray
    kind: np.ndarray
    in_batch: np.ndarray


class BotGuard:
    """The bot guard of one pipeline (so of one process): :class:`BotLimits` over sliding windows of
    the events this process has seen, by event time.

    An actor that breaks a rule with this batch's events (counted with the events remembered before)
    is flagged, and all of its events in the batch are dropped. What a batch's write applied is then
    remembered (:meth:`record`), the dropped events too: a bot that keeps flooding stays flagged,
    instead of getting a fresh allowance each time its dropped events leave it under the limit.

    Memory: per actor, one small array of the events that can still matter to a rule (within a rule's
    window of the actor's newest event, at most the newest ``limit`` per rule and key, and at most
    ``10 * max_per_minute`` in all), for at most ``max_actors`` actors, the least recently seen
    forgotten first. Why per actor and columnar: a batch then costs one lookup per actor and numpy
    work over its events, not per-key Python. Items and types are kept as a 64-bit hash of the pair
    (Python's, salted per process, which is all an in-memory window needs; a collision could only
    merge two pairs' counts).

    State is in memory and per process, as it always was: every API worker (``GRAPHREC_API_WORKERS``)
    and every ``graphrec ingest`` run keeps its own, and a restart forgets it; a bot whose batches are
    spread over W workers gets up to W times the limits before each flags it. The edge cap (the
    weighting policy's ``[saturation]``) bounds what it can do to one edge regardless.
    """

    def __init__(self, limits: BotLimits, *, max_actors: int = 100_000) -> None:
        self.limits = limits
        self.max_actors = max_actors
        self._max_per_actor = 10 * limits.max_per_minute
        self._seen: dict[str, np.ndarray] = {}  # actor -> (n, 3) int64 rows as BatchColumns.rows; order = recency
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def _with_seen(self, batch: BatchColumns) -> _Columns:
        """The batch after the remembered events of its actors (call under the lock)."""
        seen = [self._seen.get(a, _NOTHING) for a in batch.actors]
        sizes = np.array([len(rows) for rows in seen], dtype=np.int64)
        rows = np.concatenate([*seen, batch.rows])
        actor = np.concatenate([np.repeat(np.arange(len(batch.actors), dtype=np.int64), sizes), batch.actor])
        in_batch = np.arange(len(rows)) >= len(rows) - len(batch.actor)
        return _Columns(batch.actors, actor, rows[:, 0], rows[:, 1], rows[:, 2], in_batch)

    def check(self, events: Sequence[CleanEvent]) -> BotVerdict:
        """Flag the actors these events take past a rule; their events are dropped, the rest kept."""
        batch = BatchColumns.of(events)
        if not events:
            return BotVerdict([], [], {}, batch)
        lim = self.limits
        with self._lock:
            c = self._with_seen(batch)
        views = (c.kind & _VIEW) > 0
        repeatable = (c.kind & _REPEATABLE) > 0
        rules = (
            ("rate", np.ones(len(c.ts), dtype=bool), c.actor, _MINUTE_MS, lim.max_per_minute),
            ("views", views, c.actor[views], _MINUTE_MS, lim.max_views_per_minute),
            (
                "repeats",
                repeatable,
                _group_ids(c.actor[repeatable], c.pair[repeatable]),
                lim.repeat_window_ms,
                lim.max_repeats,
            ),
        )
        flagged: dict[str, str] = {}
        for rule, mask, groups, window_ms, limit in rules:
            over = windows_over(groups, c.ts[mask], c.in_batch[mask], window_ms=window_ms, limit=limit)
            for code in np.unique(c.actor[mask][over]):
                flagged.setdefault(c.actors[code], rule)
        if not flagged:
            return BotVerdict(list(events), [], {}, batch)
        logger.warning(
            "bot guard: %d actor(s) flagged (%s); their events in this batch are dropped",
            len(flagged),
            ", ".join(f"{rule}: {n}" for rule, n in sorted(Counter(flagged.values()).items())),
        )
        kept = [ev for ev in events if ev.actor not in flagged]
        dropped = [ev for ev in events if ev.actor in flagged]
        return BotVerdict(kept, dropped, dict(sorted(flagged.items())), batch)

    def record(self, verdict: BotVerdict) -> None:
        """Remember the events of a verdict whose batch was written (kept and dropped alike), keeping
        per actor only what can still matter to a rule."""
        if not len(verdict.batch.actor):
            return
        lim = self.limits
        with self._lock:
            c = self._with_seen(verdict.batch)
            order = np.lexsort((c.ts, c.actor))
            actor, ts, pair, kind = c.actor[order], c.ts[order], c.pair[order], c.kind[order]
            last = np.flatnonzero(np.append(actor[1:] != actor[:-1], True))  # each actor's newest event
            sizes = np.diff(np.concatenate([[-1], last]))
            age = np.repeat(ts[last], sizes) - ts
            rank = np.repeat(last, sizes) - np.arange(len(ts))  # 0: the actor's newest
            views = (kind & _VIEW) > 0
            repeatable = (kind & _REPEATABLE) > 0
            view_rank = _rank_from_newest(actor, views)
            pair_rank = _rank_from_newest(_group_ids(actor, pair), repeatable)
            keep = (
                ((age < _MINUTE_MS) & (rank < lim.max_per_minute))
                | (views & (age < _MINUTE_MS) & (view_rank < lim.max_views_per_minute))
                | (repeatable & (age < lim.repeat_window_ms) & (pair_rank < lim.max_repeats))
            ) & (rank < self._max_per_actor)
            keep[last] = True  # the newest always: it sets the actor's horizon
            actor = actor[keep]
            rows = np.column_stack([ts[keep], pair[keep], kind[keep]])
            cuts = np.flatnonzero(actor[1:] != actor[:-1]) + 1
            names = [c.actors[a] for a in actor[np.concatenate([[0], cuts])]]
            for name in names:  # re-inserted below: most recently seen last
                self._seen.pop(name, None)
            self._seen.update(zip(names, (r.copy() for r in np.split(rows, cuts)), strict=True))
            excess = len(self._seen) - self.max_actors
            if excess > 0:
                for name in list(islice(self._seen, excess)):
                    del self._seen[name]


def _rank_from_newest(groups: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For rows in time order within each group, each masked row's rank among its group's masked rows,
    newest first (0: the newest); unmasked rows get a rank no limit admits."""
    order = np.lexsort((np.arange(len(groups)), groups))  # stable: time order within each group
    g, m = groups[order], mask[order].astype(np.int64)
    after = np.cumsum(m[::-1])[::-1] - m  # masked rows after each row, in this order
    ends = np.flatnonzero(np.append(g[1:] != g[:-1], True))
    group_after = np.repeat(after[ends], np.diff(np.concatenate([[-1], ends])))  # masked rows after the group
    rank = np.full(len(groups), np.iinfo(np.int64).max)
    rank[order] = np.where(m > 0, after - group_after, np.iinfo(np.int64).max)
    return rank


_NOTHING = np.zeros((0, 3), dtype=np.int64)


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
