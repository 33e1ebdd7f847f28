"""Answers written straight to JSON, once; shared lists with validators a cache can use.

Why: a route that returns a pydantic model has FastAPI validate it against ``response_model`` again
and then serialise it; on the recommendations route that second validation cost about as much as the
ranking's blend. A route whose answer is built from typed domain values returns :func:`json_body`
instead and keeps ``response_model`` for the OpenAPI document (the schema tests hold its answers to it).

Shared lists (trending, similar items, the catalogue) are the same for every caller, so a browser or a
CDN may keep them for a while (:func:`shared_json`: ``Cache-Control: public, max-age``) and ask again
with ``If-None-Match``: an unchanged answer is a bodiless 304. A user's list is never shared.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "not modified: If-None-Match named this answer's ETag (no body)"}
}


def json_body(content: dict[str, Any], *, status_code: int = 200) -> Response:
    """``content`` as compact ``application/json``. A NaN or infinity raises (a bug upstream) rather
    than writing JSON no client can parse."""
    body = json.dumps(content, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return Response(body.encode(), status_code=status_code, media_type="application/json")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison of ``If-None-Match`` (a list, ``W/`` prefixes, or ``*``) with ``etag``."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def shared_json(request: Request, model: BaseModel, *, max_age_s: int) -> Response:
    """``model`` as a shared answer: its ETag (a digest of the body) and ``Cache-Control: public``; a 304
    without a body when the request's ``If-None-Match`` names that ETag."""
    body = model.model_dump_json().encode()
    etag = _etag(body)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age_s}"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
