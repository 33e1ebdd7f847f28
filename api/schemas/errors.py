"""Error bodies shared by every router."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorItemPublic(BaseModel):
    index: int | None = None
    field: str
    reason: str


class ErrorListPublic(BaseModel):
    detail: list[ErrorItemPublic]


class ErrorPublic(BaseModel):
    detail: str


_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
_STANDARD: dict[int, dict[str, Any]] = {
    400: {"model": ErrorPublic, "description": "malformed request (e.g. the body is not JSON)"},
    401: {
        "model": ErrorPublic,
        "description": "missing or invalid X-API-Key (or no keys configured); with a "
        "publishable key naming a user_id: a missing, expired or invalid user token (X-User-Token)",
    },
    403: {"model": ErrorPublic, "description": "not allowed (e.g. the user withdrew consent)"},
    404: {"model": ErrorPublic, "description": "unknown user or item"},
    413: {"model": ErrorPublic, "description": "body or batch too large"},
    415: {"model": ErrorPublic, "description": "the body must be JSON"},
    422: {"model": ErrorListPublic, "description": "invalid input: every problem with its field and reason"},
    429: {
        "model": ErrorPublic,
        "headers": _RETRY_AFTER,
        "description": "rate limited (per key, per client address, or after failed key attempts)",
    },
    503: {
        "model": ErrorPublic,
        "headers": _RETRY_AFTER,
        "description": "the graph store is unavailable, or this worker is at its concurrency limit",
    },
}


# The 403 of a route for servers only (``api.deps.require_api_key``): what a publishable key gets there.
SECRET_KEY_ONLY_403 = {
    "model": ErrorPublic,
    "description": "a publishable key may not use this route: call it from your server with a secret key",
}


def error_responses(*codes: int, **overrides: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route can return, in one shape everywhere.

    ``overrides`` (``e403={...}``) replace one entry, e.g. a 403 whose body is a per-event list."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        key = f"e{code}"
        out[code] = overrides[key] if key in overrides else _STANDARD[code]
    return out
