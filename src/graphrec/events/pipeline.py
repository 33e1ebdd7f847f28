"""Validated events -> cleaned -> weighted edge deltas -> one exactly-once store write.

Used by ``POST /v1/events`` (:meth:`EventPipeline.ingest_async`) and ``graphrec ingest``
(:meth:`EventPipeline.ingest`). A batch is written with :meth:`InteractionStore.upsert_interactions_once`,
through the pipeline's group committer (:mod:`graphrec.events.group_commit`: batches queued at the same
moment share one write): the seen-event records and the edge deltas go in the same atomic write, so an
acknowledged batch is durable and a retried one is recognised. When the store reports already-seen
keys (or, for file replays, users who withdrew consent), those events are removed, the rest is cleaned
and weighed again and the write is retried, at most ``_MAX_ATTEMPTS`` writes in all
(:meth:`EventPipeline._until_settled`, the one retry loop); a replay of a whole acknowledged batch thus
writes nothing and reports duplicates. Settled events are then appended to the event log, if any.

Custom events (type ``custom``) take the same road but for the edges: de-duplicated by id, refused
with the batch for a user without consent, counted by the bot guard's rate rule, recorded as seen in the
same store write and appended to the event log, yet never aggregated into a delta, so they never touch
the graph (reported as ``custom``, not ``applied``). A purchase's price, currency, quantity and order id
travel to the log only; its edge is weighed as any purchase's.

Every event id of a batch is recorded, including collapsed bursts and bot-flagged events, so a
retry of the same batch reports them as duplicates instead of counting them anew. Each is recorded
with its content fingerprint (:mod:`graphrec.events.idempotency`): an id reused with different
content, in one batch or against a recorded event, refuses the whole batch before anything is
written (:class:`IdempotencyConflict`); the same content again stays a duplicate.

Items no catalogue described (``GRAPHREC_UNKNOWN_ITEMS``, the API's ``unknown_items``, checked by
:meth:`EventPipeline.ingest_async` only: file replays always accept): ``accept`` creates them as
provisional items, ``flag`` does too and lists them in the report, ``reject`` refuses the whole batch
before anything is written (:class:`UnknownItems`). The check reads the store before the write; that
is safe because items are never deleted, so an item known at the check is still known at the write.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import asdict, dataclass, field
from typing import Literal

from graphrec.config import Settings
from graphrec.event_types import CUSTOM_TYPE
from graphrec.events.cleaning import BotGuard, BotLimits, BotVerdict, CleanEvent, collapse_bursts, event_key
from graphrec.events.clients import TRUSTED
from graphrec.events.details import CustomDetails, PurchaseDetails
from graphrec.events.group_commit import GroupCommitter
from graphrec.events.idempotency import (
    Conflict,
    IdempotencyConflict,
    fingerprint,
    in_batch_conflict,
    stored_conflict,
)
from graphrec.events.log import BOT, COLLAPSED, COUNTED, EventLog, LoggedEvent
from graphrec.events.policy import DWELL_CAP_META_KEY, WeightPolicy, load_policy
from graphrec.events.schema import EventIn
from graphrec.events.tombstones import Tombstones
from graphrec.graph.edge_combination import fold
from graphrec.graph.port import EventKey, EventWriteResult, GraphStore, ModelPublication
from graphrec.graph.records import InteractionDelta

logger = logging.getLogger(__name__)

_MAX_ATTEMPTS = 8
_DWELL_CAP_REFRESH_S = 60.0

UnknownItemsPolicy = Literal["accept", "flag", "reject"]


def current_dwell_cap(store: ModelPublication, policy: WeightPolicy) -> float:
    """The dwell cap in force: under ``cap_mode = "store"``, the store-wide robust one read from (:Meta)
    (a store read) and clamped to the policy's bounds, or the static cap while the store holds none (or
    an unreadable one); under ``"static"``, the static cap, without reading the store."""
    d = policy.dwell
    if d.cap_mode == "static":
        return d.static_cap_s
    raw = store.get_meta(key=DWELL_CAP_META_KEY)
    try:
        cap = float(raw) if raw is not None else d.static_cap_s
    except ValueError:
        logger.warning("ignoring unreadable dwell cap in the store: %r", raw)
        cap = d.static_cap_s
    return min(max(cap, d.min_cap_s), d.max_cap_s)


class ConsentRefused(Exception):
    """Events of users who withdrew consent; nothing of the batch was written."""

    def __init__(self, users: Sequence[str], indices: Sequence[int]) -> None:
        self.users = list(users)
        self.indices = list(indices)
        super().__init__(f"{len(self.users)} user(s) withdrew consent")


class UnknownItems(Exception):
    """Events naming items no catalogue described, under the ``reject`` policy; nothing was written."""

    def __init__(self, items: Sequence[str], indices: Sequence[int]) -> None:
        self.items = list(items)
        self.indices = list(indices)
        super().__init__(f"{len(self.items)} unknown item(s)")


@dataclass(slots=True)
class Attempt:
    """One try at writing a batch: what would be written and what it came from."""

    report: IngestReport
    pending: list[CleanEvent]  # events still to record; none left means the batch is done
    kept: list[CleanEvent] = field(default_factory=list)
    collapsed: list[CleanEvent] = field(default_factory=list)
    dropped: list[CleanEvent] = field(default_factory=list)
    flagged: dict[str, str] = field(default_factory=dict)  # actor -> the bot-guard rule it broke
    verdict: BotVerdict | None = None  # the bot guard's, remembered by it once the write applied
    deltas: list[InteractionDelta] = field(default_factory=list)
    keys: list[EventKey] = field(default_factory=list)
    now_ms: int = 0
    to_log: list[LoggedEvent] = field(default_factory=list)  # settled events, for the event log
    client: str = TRUSTED  # who sent the batch (graphrec.events.clients), stored on its edges

    @property
    def done(self) -> bool:
        return not self.pending


@dataclass(slots=True)
class IngestReport:
    """What became of a batch's events, counted and named (the API's answer, the CLI's totals)."""

    received: int = 0
    applied: int = 0
    custom: int = 0  # custom events logged (never edges)
    duplicates: int = 0
    collapsed: int = 0
    flagged: int = 0
    refused: int = 0
    edges: int = 0
    duplicate_ids: list[str] = field(default_factory=list)
    flagged_actors: list[str] = field(default_factory=list)
    flagged_rules: dict[str, str] = field(default_factory=dict)  # each flagged actor's rule: rate, views, repeats
    refused_users: list[str] = field(default_factory=list)
    unknown_items: list[str] = field(default_factory=list)  # under the ``flag`` policy only

    def add(self, other: IngestReport) -> None:
        for name in ("received", "applied", "custom", "duplicates", "collapsed", "flagged", "refused", "edges"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.flagged_actors = sorted(set(self.flagged_actors) | set(other.flagged_actors))
        self.flagged_rules = dict(sorted(({**other.flagged_rules, **self.flagged_rules}).items()))
        self.refused_users = sorted(set(self.refused_users) | set(other.refused_users))
        self.unknown_items = sorted(set(self.unknown_items) | set(other.unknown_items))

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(slots=True)
class _EventDelta:
    """One event as an edge delta, for :func:`aggregate`: built once per event, where a frozen
    :class:`InteractionDelta` costs three times as much to build (it is what comes out)."""

    user_id: str
    item_id: str
    weight: float
    count: int
    first_ts: int
    last_ts: int
    type_counts: Mapping[str, int]
    value_sums: Mapping[str, float]
    client: str
    weight_cap: float | None


def aggregate(events: Sequence[CleanEvent], policy: WeightPolicy, *, client: str = TRUSTED) -> list[InteractionDelta]:
    """One delta per (actor, item): each event is a delta of one (its type counted once, its value
    summed, its policy weight, the policy's edge cap), and a pair's deltas combine by the edge rule
    (:mod:`graphrec.graph.edge_combination`), as the store will combine them with the edge (which
    saturates the edge's weight at the cap). ``client``, the batch's sender, goes on every delta
    (trending caps the actors one client counts for). Custom events are no edge: they make no delta."""
    per_count, per_value = policy.formula()
    cap = policy.weight_cap

    def one(ev: CleanEvent) -> _EventDelta:
        t, v = ev.type, ev.value
        if v is None:
            return _EventDelta(ev.actor, ev.item_id, per_count[t], 1, ev.ts, ev.ts, {t: 1}, {}, client, cap)
        return _EventDelta(
            ev.actor, ev.item_id, per_count[t] + per_value[t] * v, 1, ev.ts, ev.ts, {t: 1}, {t: v}, client, cap
        )

    return fold(one(ev) for ev in events if ev.type != CUSTOM_TYPE)


class EventPipeline:
    """Cleans, weighs and writes event batches for one store; one per process (API state, CLI run)."""

    def __init__(
        self,
        store: GraphStore,
        policy: WeightPolicy,
        *,
        burst_window_ms: int = 1_000,
        bot_limits: BotLimits | None = None,
        clock: Callable[[], float] = time.time,
        log: EventLog | None = None,
        tombstones: Tombstones | None = None,
    ) -> None:
        self.store = store
        self.log = log
        self.tombstones = tombstones  # erased actors: their events from before the erasure are no-ops
        # told which events were just logged (trigger worker, attribution); a failing one is logged, not raised
        self.listeners: list[Callable[[Sequence[LoggedEvent]], object]] = []
        self.committer = GroupCommitter(store)
        self.policy = policy
        self.burst_window_ms = burst_window_ms
        self.guard = BotGuard(bot_limits if bot_limits is not None else BotLimits())
        self._clock = clock
        self._cap_lock = threading.Lock()
        self._dwell_cap: float | None = None
        self._cap_read_at = float("-inf")

    # -- dwell cap -------------------------------------------------------------------------------
    def dwell_cap(self) -> float:
        """The cap in force (:func:`current_dwell_cap`), cached: re-read from the store, on the calling
        thread, when the cached one is over a minute old or was dropped by :meth:`refresh_dwell_cap`."""
        d = self.policy.dwell
        if d.cap_mode == "static":
            return d.static_cap_s
        with self._cap_lock:
            now = time.monotonic()
            if self._dwell_cap is None or now - self._cap_read_at > _DWELL_CAP_REFRESH_S:
                self._dwell_cap = current_dwell_cap(self.store, self.policy)
                self._cap_read_at = now
            return self._dwell_cap

    def refresh_dwell_cap(self) -> None:
        """Drop the cached cap: the next :meth:`dwell_cap` reads the store (a new cap was just published)."""
        with self._cap_lock:
            self._dwell_cap = None

    # -- ingestion -------------------------------------------------------------------------------
    def to_clean(self, events: Sequence[EventIn]) -> list[CleanEvent]:
        """Store-ready events: graph actor ids, de-duplication keys, content fingerprints and values capped
        per the policy (the dwell cap may be read from the store: :meth:`dwell_cap`)."""
        caps = self.policy.value_caps(dwell_cap_s=self.dwell_cap())
        out = []
        for i, ev in enumerate(events):
            actor = ev.actor
            value = ev.value
            if value is not None:
                cap = caps.get(ev.type)
                if cap is not None and value > cap:
                    value = cap
            ctx = ev.context
            out.append(
                CleanEvent(
                    i,
                    event_key(actor, ev.event_id),
                    ev.event_id,
                    actor,
                    ev.item_id or "",
                    ev.type,
                    ev.timestamp,
                    value,
                    *(
                        (ctx.session_id, ctx.device, ctx.page_section, ctx.recommendation_id)
                        if ctx is not None
                        else (None, None, None, None)
                    ),
                    fingerprint=fingerprint(ev),
                    purchase=PurchaseDetails.of(ev),
                    custom=CustomDetails.of(ev),
                )
            )
        return out

    def ingest(
        self,
        events: Sequence[EventIn],
        *,
        on_refused: Literal["reject", "drop"] = "reject",
        client: str = TRUSTED,
    ) -> IngestReport:
        """Write a validated batch exactly once; returns what was applied, duplicated, dropped.

        Everything runs on the calling thread, which also waits for each store write (the group
        committer's thread runs it) and for the event log's append. Items no catalogue described are
        accepted (created provisional); only :meth:`ingest_async` applies another policy.
        ``on_refused``: events of users with ``consent = false`` either refuse the whole batch
        (:class:`ConsentRefused`, nothing written; the API) or are dropped (file replays). An event id
        reused with different content refuses the batch (:class:`IdempotencyConflict`, nothing written).
        ``client``: the batch's sender (``graphrec.events.clients``; trusted by default: files, the CLI).
        """
        rounds = self._until_settled(self.prepare(events, client=client), on_refused=on_refused)
        attempt = next(rounds)
        while not attempt.done:
            attempt = rounds.send(self._submit(attempt).result())
        self.write_log(attempt)
        return attempt.report

    def unknown_items(self, events: Sequence[EventIn], policy: UnknownItemsPolicy) -> list[str]:
        """The batch's item ids no catalogue described, by ``policy``: none looked up under ``accept``;
        :class:`UnknownItems` under ``reject`` when there are any; else those ids, sorted."""
        named = [ev.item_id for ev in events if ev.item_id is not None and ev.type != CUSTOM_TYPE]
        if policy == "accept" or not named:  # custom events create no item: the policy leaves them alone
            return []
        unknown = self.store.items_not_in_catalogue(item_ids=named)
        if unknown and policy == "reject":
            raise UnknownItems(
                sorted(unknown),
                [i for i, ev in enumerate(events) if ev.item_id in unknown and ev.type != CUSTOM_TYPE],
            )
        return sorted(unknown)

    async def ingest_async(
        self,
        events: Sequence[EventIn],
        *,
        on_refused: Literal["reject", "drop"] = "reject",
        executor: Executor | None = None,
        unknown_items: UnknownItemsPolicy = "accept",
        client: str = TRUSTED,
    ) -> IngestReport:
        """:meth:`ingest` for an event loop: the first cleaning and the event log's append run on
        ``executor``, each store write is awaited.

        Why: a thread blocked on its write is a thread that cannot clean the next batch, and every
        extra Python thread contends for the one GIL; here the loop awaits the write's future (the
        group committer's thread runs the write), so the cleaning of the next request overlaps the
        store write of this one. Where each step runs: the unknown-items lookup on the loop's default
        executor; the first cleaning (:meth:`prepare`) on ``executor``, which there also re-reads the
        dwell cap from the store when the cached one has expired (:meth:`dwell_cap`, at most once a
        minute), so ``executor`` waits for the store then; settling each write's result, and the
        cleaning again of what is left after a refused write, on the loop's own thread; the log's
        append on ``executor``. ``unknown_items``: what to do with events naming items no catalogue
        described (see the module docstring). ``client``: the batch's sender, as for :meth:`ingest`.
        """
        loop = asyncio.get_running_loop()
        unknown = await loop.run_in_executor(None, self.unknown_items, events, unknown_items)
        first = await loop.run_in_executor(executor, functools.partial(self.prepare, events, client=client))
        first.report.unknown_items = unknown
        rounds = self._until_settled(first, on_refused=on_refused)
        attempt = next(rounds)
        while not attempt.done:
            # shielded: a request cancelled at its deadline must not cancel a write the committer may be
            # running (its future would then refuse the result); the write finishes, a retry is a duplicate
            attempt = rounds.send(await asyncio.shield(asyncio.wrap_future(self._submit(attempt))))
        if self.log is not None and attempt.to_log:
            await loop.run_in_executor(executor, self.write_log, attempt)
        return attempt.report

    def _submit(self, attempt: Attempt) -> Future[EventWriteResult]:
        """Queue an attempt's write with the group committer; the future resolves once it committed."""
        return self.committer.submit(attempt.deltas, events=attempt.keys, now_ms=attempt.now_ms)

    def _until_settled(
        self, attempt: Attempt, *, on_refused: Literal["reject", "drop"]
    ) -> Generator[Attempt, EventWriteResult, None]:
        """THE retry loop of :meth:`ingest` and :meth:`ingest_async`, without the waiting (each waits for
        the store its own way): yields the attempt to write and is sent the write's result back, until
        it yields a done attempt (which needs no write).

        Why a bound: a refused write wrote nothing, and the next attempt leaves out the events it found
        already recorded (and, with ``drop``, the refusing users' events), so another round comes only
        from concurrent writers recording this batch's events, or users withdrawing consent, meanwhile.
        After ``_MAX_ATTEMPTS`` writes all refused, the batch is given up (RuntimeError: none of its
        remaining events was written; a retry of the batch is safe); an attempt whose last write was
        applied is done, never given up.
        """
        for _ in range(_MAX_ATTEMPTS):
            if attempt.done:
                break
            result = yield attempt
            attempt = self.settle(attempt, result, on_refused=on_refused)
        if not attempt.done:
            raise RuntimeError("event batch kept conflicting with concurrent writes; retry it")
        yield attempt

    def write_log(self, attempt: Attempt) -> None:
        """Append the settled events to the event log, before the batch is acknowledged (see events.log),
        then tell each listener; a listener that fails is logged, never raised (the batch is durable)."""
        if self.log is not None and attempt.to_log:
            self.log.append(attempt.to_log)
            for listener in self.listeners:
                try:
                    listener(attempt.to_log)
                except Exception:  # the batch is durable and about to be acknowledged: never undo that here
                    logger.exception("event listener %r failed", listener)

    def prepare(self, events: Sequence[EventIn], *, client: str = TRUSTED) -> Attempt:
        """Clean a batch into its first write attempt (in-batch duplicates are reported here, and so are
        events of erased actors dated at or before their erasure: retries of what was erased, which
        must not bring it back; see :mod:`graphrec.events.tombstones`, read from the event log's file).
        One event id twice with different content raises :class:`IdempotencyConflict`."""
        report = IngestReport(received=len(events))
        pending: list[CleanEvent] = []
        seen: dict[str, CleanEvent] = {}
        conflicts: list[Conflict] = []
        cleaned = self.to_clean(events)
        erased = self.tombstones.erased_at([ev.actor for ev in cleaned]) if self.tombstones is not None else {}
        for ev in cleaned:
            first = seen.get(ev.key)
            if first is None and ev.ts > erased.get(ev.actor, -1):
                seen[ev.key] = ev
                pending.append(ev)
            elif first is not None and first.fingerprint != ev.fingerprint:  # one id, two contents: refuse
                conflicts.append(in_batch_conflict(ev.index, ev.event_id, first.index))
            else:  # the same event twice in one batch, or an erased actor's event from before the erasure
                report.duplicates += 1
                report.duplicate_ids.append(ev.event_id)
        if conflicts:
            raise IdempotencyConflict(conflicts)
        return self._attempt(report, pending, client=client)

    def _attempt(
        self, report: IngestReport, pending: list[CleanEvent], to_log: list[LoggedEvent] | None = None, *, client: str
    ) -> Attempt:
        """The write attempt for ``pending`` (done at once when nothing is pending): bursts collapsed, bot
        traffic dropped, the kept events aggregated into deltas, every pending event's key recorded."""
        to_log = [] if to_log is None else to_log
        if not pending:
            return Attempt(report=report, pending=pending, to_log=to_log, client=client)
        counted, collapsed = collapse_bursts(pending, self.burst_window_ms)
        verdict = self.guard.check(counted)
        return Attempt(
            report=report,
            pending=pending,
            kept=verdict.kept,
            collapsed=collapsed,
            dropped=verdict.dropped,
            flagged=verdict.flagged,
            verdict=verdict,
            deltas=aggregate(verdict.kept, self.policy, client=client),
            keys=[EventKey(key=ev.key, user_id=ev.actor, fingerprint=ev.fingerprint) for ev in pending],
            now_ms=int(self._clock() * 1000),
            to_log=to_log,
            client=client,
        )

    def settle(
        self, attempt: Attempt, result: EventWriteResult, *, on_refused: Literal["reject", "drop"] = "reject"
    ) -> Attempt:
        """Account for a write's outcome: done when applied (counted, and the bot guard told of the events
        it judged, kept and dropped), else the next attempt, cleaned and weighed again, without the already-seen events
        (duplicates) and the refusing users' events. Raises :class:`ConsentRefused` for refusing users
        under ``reject``, and :class:`IdempotencyConflict` when an already-seen event id was recorded
        with other content (nothing was written: the write was refused)."""
        report, pending = attempt.report, attempt.pending
        if result.applied:
            if attempt.verdict is not None:
                self.guard.record(attempt.verdict)
            custom = sum(ev.type == CUSTOM_TYPE for ev in attempt.kept)
            report.applied += len(attempt.kept) - custom
            report.custom += custom
            report.collapsed += len(attempt.collapsed)
            report.flagged += len(attempt.dropped)
            report.flagged_actors = sorted(attempt.flagged)
            report.flagged_rules = attempt.flagged
            report.edges += result.edges
            to_log = (
                attempt.to_log
                + _logged(attempt.kept, COUNTED)
                + _logged(attempt.collapsed, COLLAPSED)
                + _logged(attempt.dropped, BOT)
            )
            return Attempt(report=report, pending=[], to_log=to_log)
        if result.refused_users:
            refused = set(result.refused_users)
            if on_refused == "reject":
                raise ConsentRefused(sorted(refused), [ev.index for ev in pending if ev.actor in refused])
            report.refused += sum(ev.actor in refused for ev in pending)
            report.refused_users = sorted(set(report.refused_users) | refused)
            pending = [ev for ev in pending if ev.actor not in refused]
        existing = set(result.existing)
        if existing:
            recorded = dict(result.fingerprints)
            conflicts = [
                stored_conflict(ev.index, ev.event_id)
                for ev in pending
                if ev.key in existing and recorded.get(ev.key, ev.fingerprint) != ev.fingerprint
            ]
            if conflicts:  # nothing was written: this write was refused for its existing keys
                raise IdempotencyConflict(conflicts)
            dups = [ev for ev in pending if ev.key in existing]
            report.duplicates += len(dups)
            report.duplicate_ids.extend(ev.event_id for ev in dups)
            pending = [ev for ev in pending if ev.key not in existing]
            # logged again on purpose: if the process died between the store write and the log append,
            # this retry is what puts them in the log (the log ignores rows it already has)
            return self._attempt(report, pending, attempt.to_log + _logged(dups, COUNTED), client=attempt.client)
        return self._attempt(report, pending, attempt.to_log, client=attempt.client)


def _logged(events: Sequence[CleanEvent], flag: int) -> list[LoggedEvent]:
    return [
        LoggedEvent(
            ev.actor,
            ev.event_id,
            ev.item_id,
            ev.type,
            ev.ts,
            ev.value,
            ev.session_id,
            ev.device,
            ev.section,
            flag,
            ev.recommendation_id,
            ev.purchase,
            ev.custom,
        )
        for ev in events
    ]


def build_pipeline(
    store: GraphStore,
    settings: Settings,
    *,
    policy: WeightPolicy | None = None,
    log: EventLog | None = None,
) -> EventPipeline:
    """The pipeline configured by ``settings`` (policy file, burst window, bot guard, event log and the
    erasure tombstones kept in its file)."""
    log = log if log is not None else EventLog(settings.event_log_file)
    return EventPipeline(
        store,
        policy if policy is not None else load_policy(settings.events_policy_path),
        burst_window_ms=settings.events_burst_window_ms,
        bot_limits=BotLimits(
            max_per_minute=settings.events_max_per_minute,
            max_views_per_minute=settings.events_max_views_per_minute,
            max_repeats=settings.events_max_repeats,
            repeat_window_ms=round(settings.events_repeat_window_s * 1000),
        ),
        log=log,
        tombstones=Tombstones.beside(log.path, settings),
    )
