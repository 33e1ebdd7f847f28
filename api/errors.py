"""Error handlers: 422s list every problem as (index, field, reason); 500s never leak exception text."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

logger = logging.getLogger(__name__)

_LOCATIONS = ("body", "path", "query", "header", "cookie")


def error_item(index: int | None, field: str, reason: str) -> dict[str, Any]:
    """The one shape of a per-item error in ``detail`` lists (422, 403)."""
    return {"index": index, "field": field, "reason": reason}


def _reason(msg: str) -> str:
    return msg.removeprefix("Value error, ")


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    detail = []
    for e in exc.errors():
        loc = [p for p in e.get("loc", ()) if p not in _LOCATIONS]
        index = loc[0] if loc and isinstance(loc[0], int) else None
        field = ".".join(str(p) for p in loc if not isinstance(p, int)) or "body"
        detail.append(error_item(index, field, _reason(str(e.get("msg", "invalid")))))
    return JSONResponse(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": detail})


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        status_code=status.HTTP_500_INTERNAL_SERVER_ERROR, content={"detail": "internal server error"}
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unhandled)
