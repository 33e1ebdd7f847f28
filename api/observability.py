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

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_log = logging.getLogger("graphrec.access")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
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
        self.latency = Histogram(
            "graphrec_request_seconds",
            "request latency",
            ["route", "method"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.requests = Counter(
            "graphrec_requests_total",
            "requests by route and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.sources = Counter(
            "graphrec_candidate_source_total",
            "recommended items by candidate source",
            ["endpoint", "source"],
            registry=self.registry,
        )
        self.degraded = Counter(
            "graphrec_degraded_responses_total", "responses flagged degraded", ["endpoint"], registry=self.registry
        )
        self.shed = Counter(
            "graphrec_shed_requests_total",
            "requests refused fast instead of served: concurrency (503), client_rate (429), "
            "key_rate (429), auth_failures (429), store_unavailable (503), "
            "deadline (503: not answered in time)",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("concurrency", "client_rate", "key_rate", "auth_failures", "store_unavailable", "deadline"):
            self.shed.labels(reason)  # every series exists from the start (0), so dashboards see it


class ObservabilityMiddleware:
    """Pure ASGI middleware: request id in and out, latency and status metrics, one access log line.

    Why not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs every request in an
    extra task with memory streams between the layers, which costs more than many handlers here.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                rid = value.decode("latin-1")[:128]
                break
        rid = rid or uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500
        header = (b"x-request-id", rid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            method = scope["method"]
            self.metrics.latency.labels(name, method).observe(elapsed)
            self.metrics.requests.labels(name, method, str(status)).inc()
            path = scope["path"]
            access_log.info(
                "%s %s %s",
                method,
                path,
                status,
                extra={"method": method, "path": path, "status": status, "duration_ms": round(elapsed * 1000, 2)},
            )
            request_id_var.reset(token)


def install_observability(app: FastAPI, metrics: Metrics) -> None:
    """Count and log every request into ``metrics`` (the app's services hold the same object)."""
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
