"""Admission: a bounded number of requests in flight per worker, each answered within a deadline.

Why a bound: without one, a burst of connections queues inside the process (every request waits
behind all earlier ones, p99 in seconds, client timeouts) and the work done for requests whose
clients already gave up is wasted. Refusing at once with ``Retry-After`` keeps the accepted requests
fast and tells well-behaved clients when to come back.

Why two budgets: writes wait for the store, reads mostly do not (recommendations degrade to the
in-memory state when the store is slow). With one budget, sixteen writes stuck on a hung store
filled every slot and turned every read into a 503; now writes (any method but GET/HEAD/OPTIONS)
have their own budget and cannot take the reads'.

Why a deadline: a request that waits on a hung store (or behind a write that does) must still be
answered when its documented deadline comes: ``503`` with ``Retry-After``, which for a write means
"not acknowledged; a retry is applied once" (the event pipeline's writes are idempotent by event
id, and a cancelled request never cancels a store write that already started). A request past its
deadline also tells ``on_deadline`` (the API marks the store as suspect: later requests stop
waiting for it until the watchdog's probe answers again).

Why the HTTP protocol sheds reads too: under a hammering burst (300 connections that retry at once)
the CPU went to refusing, not serving. Every refusal ran the whole middleware stack, and the event
loop serves ready sockets in turn, so each step of an accepted request waited behind hundreds of
refusals: accepted p99 0.62 s. :class:`Admission` holds the counters, so the protocol of
:mod:`api.server` answers a read that finds the read budget full with canned bytes, before any ASGI
work (about a tenth of the cost); this middleware still refuses whatever reaches it over budget
(writes, the first request of a pipeline, servers run without our protocol).

Operations routes (health, readiness, metrics) are neither bounded nor shed, so an overloaded
worker can still be observed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.observability import Metrics

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
# set in a request's scope when the HTTP protocol already took its read slot (and gives it back)
HELD_READ = "graphrec.read_slot"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _json_answer(status: int, detail: str, retry_after_s: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"detail": detail}).encode()
    return [
        (b"content-type", b"application/json"),
        (b"retry-after", str(retry_after_s).encode()),
        (b"content-length", str(len(body)).encode()),
    ], body


class Admission:
    """One worker's requests in flight and its two budgets, shared by :class:`ConcurrencyLimit` and
    the HTTP protocol (one event loop per worker: plain counters, no lock)."""

    def __init__(self, *, read_limit: int, write_limit: int, metrics: Metrics, retry_after_s: int = 1) -> None:
        self.read_limit = read_limit
        self.write_limit = write_limit
        self.metrics = metrics
        self.retry_after_s = retry_after_s
        self.reads = 0
        self.writes = 0
        self.busy_reads = _json_answer(
            503, f"server busy: {read_limit} requests in flight on this worker; retry shortly", retry_after_s
        )
        self.busy_writes = _json_answer(
            503, f"server busy: {write_limit} writes in flight on this worker; retry shortly", retry_after_s
        )
        self._shed_count = metrics.shed.labels("concurrency")  # labels() costs more than the refusal

    def reads_full(self) -> bool:
        return self.reads >= self.read_limit

    def refuse(self) -> None:
        """Count a request refused for want of a slot."""
        self._shed_count.inc()

    def holding_read(self, app: ASGIApp) -> ASGIApp:
        """``app`` for a read whose slot the protocol took when its headers arrived (so the requests
        parsed in the same loop tick see it taken): marks the scope and gives the slot back at the end,
        whatever the layers outside :class:`ConcurrencyLimit` do with the request."""

        async def run(scope: Scope, receive: Receive, send: Send) -> None:
            scope[HELD_READ] = True
            try:
                await app(scope, receive, send)
            finally:
                self.reads -= 1

        return run


class ConcurrencyLimit:
    """Pure ASGI middleware (counters and one timer per request, no task): cheap enough to sit on
    every request. ``limit`` bounds reads in flight, ``write_limit`` writes; ``deadline_s`` bounds
    how long an admitted request may take before it is answered 503. Pass the worker's
    ``admission`` to share its counters with the protocol; without one the middleware keeps its own."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        metrics: Metrics,
        retry_after_s: int = 1,
        write_limit: int | None = None,
        deadline_s: float | None = None,
        on_deadline: Callable[[Scope], object] | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.app = app
        self.admission = admission or Admission(
            read_limit=limit,
            write_limit=limit if write_limit is None else write_limit,
            metrics=metrics,
            retry_after_s=retry_after_s,
        )
        self.metrics = metrics
        self.deadline_s = deadline_s
        self.on_deadline = on_deadline
        self._late = _json_answer(
            503,
            f"the request was not answered within {deadline_s:g} s (the graph store is slow or unavailable); "
            "retry later (a retried event batch is applied once)"
            if deadline_s
            else "",
            retry_after_s,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if scope.get(HELD_READ):  # its slot was taken (and is given back) by the protocol
            await self._serve(scope, receive, send)
            return
        write = scope["method"] not in READ_METHODS
        a = self.admission  # one event loop per worker: no lock needed between awaits
        if (a.writes >= a.write_limit) if write else a.reads_full():
            a.refuse()
            await _send_answer(send, *(a.busy_writes if write else a.busy_reads))
            return
        if write:
            a.writes += 1
        else:
            a.reads += 1
        try:
            await self._serve(scope, receive, send)
        finally:
            if write:
                a.writes -= 1
            else:
                a.reads -= 1

    @property
    def in_flight(self) -> int:
        """Reads in flight."""
        return self.admission.reads

    @property
    def writes_in_flight(self) -> int:
        return self.admission.writes

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.deadline_s is None:
            await self.app(scope, receive, send)
        else:
            await self._within_deadline(scope, receive, send)

    async def _within_deadline(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_once_started(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        deadline = asyncio.timeout(self.deadline_s)
        try:
            async with deadline:
                await self.app(scope, receive, send_once_started)
        except TimeoutError:
            if not deadline.expired():  # a route's own TimeoutError, not this deadline
                raise
            self.metrics.shed.labels("deadline").inc()
            if self.on_deadline is not None:
                self.on_deadline(scope)
            if not started:  # a response already under way is cut off (the client sees it incomplete)
                await _send_answer(send, *self._late)


async def _send_answer(send: Send, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
