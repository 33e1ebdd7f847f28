"""Answers written straight to JSON, once; shared lists with validators a cache can use.

Why: a route that returns a pydantic model has FastAPI validate it against ``response_model`` again
and then serialise it; on the recommendations route that second validation cost about as much as the
ranking's blend. A route whose answer is built from typed domain values returns :func:`json_body`
instead and keeps ``response_model`` for the OpenAPI document (the schema tests hold its answers to it).

Shared lists (trending, similar items, the catalogue) are the same for every caller. A browser keeps
them but asks again before each reuse (:func:`shared_json`: ``max-age=0`` with an ETag: an unchanged
answer is a bodiless 304), so an item made unavailable leaves the page's next list at once; a shared
cache between them (a CDN) may keep one for ``s-maxage`` seconds and answer those revalidations itself,
which bounds how long it can show a stale list (docs/api.md, "shared answers"). A user's list is never
shared.
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


def shared_json(request: Request, model: BaseModel, *, shared_cache_s: int) -> Response:
    """``model`` as a shared answer: its ETag (a digest of the body) and ``Cache-Control: public,
    max-age=0, s-maxage=<shared_cache_s>``; a 304 without a body when the request's ``If-None-Match`` names
    that ETag. Why ``max-age=0``: a browser that reused its copy unasked could show an item sold out since
    (issue 28, point 1); the revalidation costs a round trip and a 304, not the body."""
    body = model.model_dump_json().encode()
    etag = _etag(body)
    headers = {"ETag": etag, "Cache-Control": f"public, max-age=0, s-maxage={shared_cache_s}"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
