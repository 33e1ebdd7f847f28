"""Request ids, JSON logs and Prometheus metrics.

Every response carries ``X-Request-ID`` (the caller's, or a new one); every log line written while a
request is served carries it too (``request_id`` in the JSON record). Metrics use a per-app
registry so several apps (tests) never collide.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_log = logging.getLogger("graphrec.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": round(record.created, 3), "level": record.levelname, "logger": record.name,
            "msg": record.getMessage(), "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        for key in ("method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure_json_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("graphrec_request_seconds", "request latency", ["route", "method"],
                                 registry=self.registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
        self.requests = Counter("graphrec_requests_total", "requests by route and status",
                                ["route", "method", "status"], registry=self.registry)
        self.sources = Counter("graphrec_candidate_source_total", "recommended items by candidate source",
                               ["endpoint", "source"], registry=self.registry)
        self.degraded = Counter("graphrec_degraded_responses_total", "responses flagged degraded",
                                ["endpoint"], registry=self.registry)


def install_observability(app: FastAPI) -> Metrics:
    metrics = Metrics()
    app.state.metrics = metrics

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        token = request_id_var.set(rid[:128])
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-ID"] = rid[:128]
            return response
        finally:
            elapsed = time.perf_counter() - started
            route = request.scope.get("route")
            name = getattr(route, "path", "unmatched")
            metrics.latency.labels(name, request.method).observe(elapsed)
            metrics.requests.labels(name, request.method, str(status)).inc()
            access_log.info("%s %s %s", request.method, request.url.path, status,
                            extra={"method": request.method, "path": request.url.path, "status": status,
                                   "duration_ms": round(elapsed * 1000, 2)})
            request_id_var.reset(token)

    return metrics
