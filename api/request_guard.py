"""The request guard: a request's key and body are checked before it reaches a route or takes a slot.

Why: FastAPI reads and parses a body before any dependency runs, so the key was checked only after
the whole body had arrived, and a body's bytes arrived with no deadline. Sixteen sockets trickling a
body, or three unauthenticated 100 MB uploads, held every request slot of a worker. This pure ASGI
middleware sits outside the load shedder (:mod:`api.shedding`) and, for a request that carries a body:

1. checks the key first (the same :func:`api.deps.authenticate` the routes use; its answer is kept
   in the request's state, so the route does not count the request against a rate limit twice):
   no or a wrong key is refused before one byte of the body is read;
2. refuses a declared ``Content-Length`` over the route's limit at once (413);
3. reads the body with that limit and a deadline (``GRAPHREC_BODY_TIMEOUT_S``; 408 past it) and hands
   the route the buffered body.

Refusals close the connection (``Connection: close``): whatever the client still sends is not read.
A slow body costs an idle coroutine and a socket, never a request slot.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from fastapi import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphrec.config import Settings

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def body_limit(settings: Settings, method: str, path: str) -> int:
    """The largest body a route takes: event batches and bulk catalogue upserts have their own limits,
    every other route the small default (its bodies are a few ids and flags)."""
    if path == "/v1/events":
        return settings.events_max_body_bytes
    if method == "PUT" and path == "/v1/items":
        return settings.catalogue_max_body_bytes
    return settings.max_body_bytes


def too_large(limit: int) -> HTTPException:
    """The one 413 of an oversized body (declared or streamed)."""
    return HTTPException(413, f"request body exceeds the limit of {limit} bytes; send smaller batches")


class _Refused(Exception):  # noqa: N818 - carries the answer, not an error of ours
    def __init__(self, exc: HTTPException) -> None:
        self.exc = exc


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise _Refused(HTTPException(400, "Content-Length is not a number")) from None
    return None


def _has_body(scope: Scope, declared: int | None) -> bool:
    if declared is not None:
        return declared > 0
    return any(name == b"transfer-encoding" for name, _ in scope["headers"])


class RequestGuard:
    """Pure ASGI middleware (see the module docstring); ``authenticate`` is the routes' own key check,
    given the request and returning or raising what the route's dependency would."""

    def __init__(self, app: ASGIApp, *, settings: Settings, authenticate: Callable[[Request], object]) -> None:
        self.app = app
        self.settings = settings
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            declared = _declared_length(scope)
            if not _has_body(scope, declared):
                await self.app(scope, receive, send)
                return
            await self.authenticate(Request(scope))  # type: ignore[misc]
            limit = body_limit(self.settings, scope["method"], scope["path"])
            if declared is not None and declared > limit:
                raise _Refused(too_large(limit))
            body = await self._read(receive, limit)
        except HTTPException as exc:
            await _answer(send, exc)
            return
        except _Refused as refused:
            await _answer(send, refused.exc)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive, limit: int) -> bytes:
        # one deadline for the whole body (asyncio.timeout, not wait_for: no task per chunk)
        deadline = asyncio.timeout(self.settings.body_timeout_s)
        try:
            async with deadline:
                return await _chunks(receive, limit)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise _Refused(
                HTTPException(408, f"the request body did not arrive within {self.settings.body_timeout_s:g} s")
            ) from None


async def _chunks(receive: Receive, limit: int) -> bytes:
    """The body's chunks, joined; refused past ``limit`` bytes or when the client goes away."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Refused(HTTPException(400, "the client went away before sending the whole body"))
        chunk = message.get("body", b"")
        received += len(chunk)
        if received > limit:  # chunked uploads or a lying Content-Length
            raise _Refused(too_large(limit))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the buffered body over once, then waits on the connection as before
    (so a route still learns of a client that disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, exc: HTTPException) -> None:
    payload = json.dumps({"detail": exc.detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items()]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
