"""Group commit: concurrent event batches share one atomic, fsynced store write.

Why: the store serialises writes and fsyncs each one, so under concurrent load most of a request's
latency is queueing for its own small write. Here one writer thread per committer takes every
batch waiting at that moment, merges them into one ``upsert_interactions_once`` call, and hands
each caller its own result. Acknowledgement semantics are unchanged: nobody returns before the
write holding its events has committed. A caller waits for its own group only, never for others.

If the merged write is refused (a duplicate event key or a consent refusal in any member), nothing
was written, and the leader falls back to writing each member on its own, so each caller gets
exactly the answer it would have got alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from graphrec.graph.edge_combination import fold
from graphrec.graph.errors import StoreUnavailable
from graphrec.graph.port import EventKey, EventWriteResult, InteractionStore
from graphrec.graph.records import InteractionDelta

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Request:
    deltas: Sequence[InteractionDelta]
    events: Sequence[EventKey]
    now_ms: int
    result: Future[EventWriteResult] = field(default_factory=Future)


def merge_deltas(groups: Sequence[Sequence[InteractionDelta]]) -> list[InteractionDelta]:
    """One delta per (user, item) for one store write: each pair's deltas combined in queue order by
    the edge rule (:mod:`graphrec.graph.edge_combination`), the store's own, so a batch that shares a
    group write leaves the same edge as one written alone."""
    return fold(d for deltas in groups for d in deltas)


class GroupCommitter:
    """Group commit over ``store.upsert_interactions_once`` with one writer thread."""

    def __init__(self, store: InteractionStore, *, max_events: int = 20_000) -> None:
        self._store = store
        self._max_events = max_events
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._writer: threading.Thread | None = None
        self.writes = 0  # store writes issued (observability and tests)

    def write(self, deltas: Sequence[InteractionDelta], *, events: Sequence[EventKey], now_ms: int) -> EventWriteResult:
        """Queue a write and wait for it."""
        return self.submit(deltas, events=events, now_ms=now_ms).result()

    def submit(
        self, deltas: Sequence[InteractionDelta], *, events: Sequence[EventKey], now_ms: int
    ) -> Future[EventWriteResult]:
        """Queue a write; the future resolves once the group holding it has committed (or failed)."""
        request = _Request(deltas, events, now_ms)
        with self._cond:
            self._queue.append(request)
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run, name="graphrec-group-commit", daemon=True)
                self._writer.start()
            self._cond.notify()
        return request.result

    def _take_group(self) -> list[_Request]:
        """Waiting requests, oldest first, up to the size cap, never two with the same event key."""
        group: list[_Request] = []
        keys: set[str] = set()
        size = 0
        rest: list[_Request] = []
        for req in self._queue:
            req_keys = {e.key for e in req.events}
            fits = not group or size + len(req.events) <= self._max_events
            if fits and not (req_keys & keys):
                group.append(req)
                keys |= req_keys
                size += len(req.events)
            else:
                rest.append(req)
        self._queue = rest
        return group

    def _run(self) -> None:
        while True:
            with self._cond:
                # An idle writer exits after a while; the next write starts a new one.
                if not self._cond.wait_for(lambda: bool(self._queue), timeout=30.0):
                    self._writer = None
                    return
                group = self._take_group()
            try:
                self._commit(group)
            except Exception as exc:  # every waiter must hear about a failed write
                for req in group:
                    if not req.result.done():
                        req.result.set_exception(exc)

    def _commit(self, group: list[_Request]) -> None:
        if len(group) == 1:
            self._write_one(group[0])
            return
        self.writes += 1
        try:
            merged = self._store.upsert_interactions_once(
                merge_deltas([r.deltas for r in group]),
                events=[e for r in group for e in r.events],
                now_ms=max(r.now_ms for r in group),
            )
        except StoreUnavailable:
            raise  # every member would fail the same way: tell them all at once
        except Exception:
            # One member's bad batch must not fail the others it was merged with: the group write
            # rolled back entirely, so each member is written (and fails or succeeds) on its own.
            logger.warning("a group write of %d batches failed; writing them one by one", len(group), exc_info=True)
            for req in group:
                self._write_one(req)
            return
        if merged.applied:
            for req in group:
                req.result.set_result(
                    EventWriteResult(applied=True, existing=(), refused_users=(), edges=len(req.deltas))
                )
            return
        for req in group:  # something in the group conflicts: answer each member on its own
            self._write_one(req)

    def _write_one(self, req: _Request) -> None:
        self.writes += 1
        try:
            req.result.set_result(
                self._store.upsert_interactions_once(req.deltas, events=req.events, now_ms=req.now_ms)
            )
        except Exception as exc:
            req.result.set_exception(exc)
