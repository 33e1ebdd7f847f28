"""Load shedding: at most ``limit`` requests in flight per worker; the next one gets an immediate 503.

Why: without a bound, a burst of connections queues inside the process (every request waits behind
all earlier ones, p99 in seconds, client timeouts) and the work done for requests whose clients
already gave up is wasted. Refusing at once with ``Retry-After`` keeps the accepted requests fast
and tells well-behaved clients when to come back. Operations routes (health, readiness, metrics)
are never shed, so an overloaded worker can still be observed.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from api.observability import Metrics

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})


class ConcurrencyLimit:
    """Pure ASGI middleware (a counter, no task per request): cheap enough to sit on every request."""

    def __init__(self, app: ASGIApp, *, limit: int, metrics: Metrics, retry_after_s: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.metrics = metrics
        self.in_flight = 0
        body = {"detail": f"server busy: {limit} requests in flight on this worker; retry shortly"}
        self._body = json.dumps(body).encode()
        self._headers = [(b"content-type", b"application/json"), (b"retry-after", str(retry_after_s).encode()),
                         (b"content-length", str(len(self._body)).encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.metrics.shed.labels("concurrency").inc()
            await send({"type": "http.response.start", "status": 503, "headers": self._headers})
            await send({"type": "http.response.body", "body": self._body})
            return
        self.in_flight += 1  # one event loop per worker: no lock needed between awaits
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
