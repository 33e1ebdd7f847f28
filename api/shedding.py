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
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _json_answer(status: int, detail: str, retry_after_s: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"detail": detail}).encode()
    return [(b"content-type", b"application/json"), (b"retry-after", str(retry_after_s).encode()),
            (b"content-length", str(len(body)).encode())], body


class ConcurrencyLimit:
    """Pure ASGI middleware (counters and one timer per request, no task): cheap enough to sit on
    every request. ``limit`` bounds reads in flight, ``write_limit`` writes; ``deadline_s`` bounds
    how long an admitted request may take before it is answered 503."""

    def __init__(self, app: ASGIApp, *, limit: int, metrics: Metrics, retry_after_s: int = 1,
                 write_limit: int | None = None, deadline_s: float | None = None,
                 on_deadline: Callable[[Scope], object] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.write_limit = limit if write_limit is None else write_limit
        self.metrics = metrics
        self.deadline_s = deadline_s
        self.on_deadline = on_deadline
        self.in_flight = 0  # reads
        self.writes_in_flight = 0
        self._busy = _json_answer(503, f"server busy: {limit} requests in flight on this worker; retry shortly",
                                  retry_after_s)
        self._busy_writes = _json_answer(
            503, f"server busy: {self.write_limit} writes in flight on this worker; retry shortly", retry_after_s)
        self._late = _json_answer(
            503, f"the request was not answered within {deadline_s:g} s (the graph store is slow or unavailable); "
            "retry later (a retried event batch is applied once)" if deadline_s else "", retry_after_s)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        write = scope["method"] not in READ_METHODS
        # one event loop per worker: no lock needed between awaits
        if (self.writes_in_flight >= self.write_limit) if write else (self.in_flight >= self.limit):
            self.metrics.shed.labels("concurrency").inc()
            await _send_answer(send, *(self._busy_writes if write else self._busy))
            return
        if write:
            self.writes_in_flight += 1
        else:
            self.in_flight += 1
        try:
            if self.deadline_s is None:
                await self.app(scope, receive, send)
            else:
                await self._within_deadline(scope, receive, send)
        finally:
            if write:
                self.writes_in_flight -= 1
            else:
                self.in_flight -= 1

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
