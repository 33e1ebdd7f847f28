"""Error handlers: 422s list every problem as (index, field, reason); a store outage is a 503 with
``Retry-After`` (never a 500 or a 404); the other store errors by their type (a conflict 409, refused
values 422, a store missing its database or procedure 500: a deployment fault, not a missing user or
item), without the store's text; 500s never leak exception text."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.container import built_services
from graphrec.events.log import EventLogUnavailable
from graphrec.graph.errors import BadStoreInput, NotFoundInStore, StoreConflict, StoreUnavailable, is_unavailable

logger = logging.getLogger(__name__)

_LOCATIONS = ("body", "path", "query", "header", "cookie")


def error_item(index: int | None, field: str, reason: str) -> dict[str, Any]:
    """The one shape of a per-item error in ``detail`` lists (422, 403)."""
    return {"index": index, "field": field, "reason": reason}


def _reason(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def field_of(loc: list[Any]) -> tuple[int | None, str]:
    """``(index, field)`` of a validation error's location: a body that is a list gives its position
    as the index; inside a body, list positions stay in the field (``items[3].price``, the first one
    also the index), so a batch's error names the element as well as the field."""
    if loc and isinstance(loc[0], int):
        return loc[0], ".".join(str(p) for p in loc[1:] if not isinstance(p, int)) or "body"
    parts: list[str] = []
    index: int | None = None
    for p in loc:
        if isinstance(p, int) and parts:
            index = p if index is None else index
            parts[-1] += f"[{p}]"
        elif not isinstance(p, int):
            parts.append(str(p))
    return index, ".".join(parts) or "body"


def malformed_json(msg: str, doc: str | bytes, pos: int) -> str:
    """The one text of a 400 for a body that is not JSON: the parser's reason, line and column."""
    text = doc.decode("utf-8", "replace") if isinstance(doc, bytes) else doc
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return f"malformed JSON: {msg} at line {line} column {column}"


def json_limit_reason(exc: RecursionError | ValueError) -> str:
    """Why a body that the JSON parser refused past its limits is malformed (a 400, never a 500)."""
    if isinstance(exc, RecursionError):
        return "nested deeper than this API parses"
    return "a number with more digits than this API parses" if "digits" in str(exc) else str(exc)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:  # not a validation failure but a malformed body: 400, as POST /v1/events answers
        loc = bad_json.get("loc", ())
        pos = loc[-1] if loc and isinstance(loc[-1], int) else 0
        reason = malformed_json(str(bad_json.get("ctx", {}).get("error", "invalid JSON")), exc.body or "", pos)
        return JSONResponse(status_code=status.HTTP_400_BAD_REQUEST, content={"detail": reason})
    detail = []
    for e in errors:
        index, field = field_of([p for p in e.get("loc", ()) if p not in _LOCATIONS])
        detail.append(error_item(index, field, _reason(str(e.get("msg", "invalid")))))
    return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": detail})


def store_unavailable_response(request: Request, reason: str) -> JSONResponse:
    """The one 503 of a store outage; also marks the store down so later requests skip it."""
    services = built_services(request.app)
    retry = 2
    if services is not None:
        services.health.failed(reason)
        services.metrics.shed.labels("store_unavailable").inc()
        retry = services.settings.retry_after_s
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": "the graph store is unavailable; retry later (a retried event batch is applied once)"},
        headers={"Retry-After": str(retry)},
    )


async def _store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
    services = built_services(request.app)
    # The first failure is news; the requests refused while the store is known to be down are not.
    level = logging.WARNING if services is None or services.health.up else logging.DEBUG
    logger.log(level, "%s %s: %s", request.method, request.url.path, exc)
    return store_unavailable_response(request, str(exc))


async def _event_log_unavailable(request: Request, exc: EventLogUnavailable) -> JSONResponse:
    logger.warning("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": "the event log is unavailable; retry later (a retried event batch is applied once)"},
        headers={"Retry-After": "5"},
    )


async def _store_conflict(request: Request, exc: StoreConflict) -> JSONResponse:
    logger.info("%s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=status.HTTP_409_CONFLICT,
        content={"detail": "the request conflicts with the graph's current state; re-read and retry"},
    )


async def _not_found_in_store(request: Request, exc: NotFoundInStore) -> JSONResponse:
    # The store lacks a database, procedure, index or constraint graphrec needs: no client's request
    # can fix that, so neither a 404 (which reads as "no such user") nor a retryable 503.
    logger.error("%s %s: the graph store is misconfigured: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
        content={"detail": "the graph store is misconfigured; see the server log"},
    )


async def _bad_store_input(request: Request, exc: BadStoreInput) -> JSONResponse:
    logger.warning("%s %s: %s", request.method, request.url.path, exc)
    detail = [error_item(None, "body", "the graph store refused the request's values")]
    return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": detail})


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    if is_unavailable(exc):  # wrapped on its way up (e.g. by a thread pool or an ExceptionGroup)
        return await _store_unavailable(request, StoreUnavailable(str(exc)))
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(status_code=status.HTTP_500_INTERNAL_SERVER_ERROR, content={"detail": "internal server error"})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailable, _store_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(EventLogUnavailable, _event_log_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(StoreConflict, _store_conflict)  # type: ignore[arg-type]
    app.add_exception_handler(NotFoundInStore, _not_found_in_store)  # type: ignore[arg-type]
    app.add_exception_handler(BadStoreInput, _bad_store_input)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled)
