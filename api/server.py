"""How the API is put on a socket: uvicorn with a deadline on every request's headers.

Why a protocol of our own: uvicorn's HTTP protocol waits without limit for a request's headers. Its
keep-alive timer covers only the quiet time between two requests and is cancelled by the first byte
that arrives, and a fresh connection has no timer at all; so connections that trickle header bytes
(slowloris) or send nothing are held open for ever. :func:`http_protocol` adds one timer per
connection, armed when it opens and, for a request whose headers do not arrive with its first
packet, at that request's first byte (the common request costs no timer); disarmed when the headers
are complete; past it the connection gets a 408 and is closed. (Bodies have their own deadline in
:mod:`api.request_guard`.)

The same protocol sheds reads: a GET or HEAD that finds the worker's read budget full
(:class:`api.shedding.Admission`) is answered 503 with ``Retry-After`` from canned bytes as soon as its
headers are parsed, without any ASGI work; under a hammering burst refusals then cost a tenth of
what they did, and the accepted requests keep the CPU (see :mod:`api.shedding`). Such an answer
carries the CORS headers a browser needs to read it, and no ``X-Request-ID``.

``graphrec serve`` (one worker or several) runs the API through :func:`server_config`; the bare
``uvicorn api.main:create_worker_app --factory`` form works too, without the header deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import struct
import sys
import urllib.parse
from collections.abc import Iterable
from typing import Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.shedding import EXEMPT, READ_METHODS, Admission
from graphrec.config import Settings

_TIMEOUT_BODY = b'{"detail": "the request headers did not arrive in time"}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


# a client that lets this many bytes of answers pile up unread (pipelined requests it never reads the
# answers of) is closed rather than buffered for
_UNREAD_LIMIT = 65_536
# the admission's reads, but CORS preflights: those go to the app, whose CORS middleware answers them
_SHEDDABLE_METHODS = frozenset(m.encode() for m in READ_METHODS - {"OPTIONS"})


class _Answered:
    """Stands in for uvicorn's request cycle when the protocol answered the request itself: complete,
    so the parser's later callbacks for that request (body, end) are ignored, as for any answered one."""

    response_complete = True
    keep_alive = False
    disconnected = False

    def __init__(self) -> None:
        self.message_event = asyncio.Event()


def _drop(transport: asyncio.Transport) -> None:
    """Drop a client that stopped reading its answers: a reset, with what it did not read discarded.
    Why not close() or abort(): both end in a plain close(), after which the kernel keeps the
    unread answers (hundreds of KB) in an orphaned socket and the client, blocked on a full window,
    is never told; SO_LINGER 0 makes the close a reset."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _cors_header(origin: bytes | None, allowed: frozenset[bytes]) -> bytes:
    """What Starlette's CORS middleware adds to a simple response, for the protocol's own answers."""
    if origin is None or not allowed:
        return b""
    if b"*" in allowed:
        value = b"*"
    elif origin in allowed:
        value = origin + b"\r\nvary: Origin"
    else:
        return b""
    return (
        b"access-control-allow-origin: " + value + b"\r\naccess-control-expose-headers: X-Request-ID, Retry-After\r\n"
    )


def _busy_response(admission: Admission, cors: bytes, keep_alive: bool) -> bytes:
    headers, body = admission.busy_reads
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return (
        b"HTTP/1.1 503 Service Unavailable\r\n"
        + lines
        + cors
        + (b"" if keep_alive else b"connection: close\r\n")
        + b"\r\n"
        + body
    )


def http_protocol(
    header_timeout_s: float, admission: Admission | None = None, cors_origins: Iterable[str] = ()
) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a ``header_timeout_s`` deadline on each request's headers and,
    given the worker's ``admission``, reads shed before they reach the app."""
    allowed = frozenset(o.encode("latin-1") for o in cors_origins)

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _in_headers = False  # a request's first byte arrived, its headers are not complete yet
        _headers_began = 0.0

        def _arm(self, at: float | None = None) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_at(
                    at if at is not None else self.loop.time() + header_timeout_s, self._headers_too_slow
                )

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.write(_TIMEOUT_RESPONSE)
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()  # a connection that never sends a byte is closed too

        def on_message_begin(self) -> None:
            # the next request of a kept-alive connection: its first byte (until then uvicorn's own
            # keep-alive timer closes an idle connection)
            super().on_message_begin()
            self._in_headers = True
            self._headers_began = self.loop.time()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_headers:  # the headers span packets: only then is a timer worth its cost
                self._arm(self._headers_began + header_timeout_s)

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._disarm()
            if admission is None or not self._bounded_read():
                super().on_headers_complete()  # the app's ConcurrencyLimit decides
            elif admission.reads_full():
                self._shed(admission)
            else:
                # take the slot now: the other requests parsed in this loop tick must see it taken
                admission.reads += 1
                app = self.app
                self.app = self._holding
                try:
                    super().on_headers_complete()  # starts the request's task at once (no pipeline)
                finally:
                    self.app = app

        @functools.cached_property
        def _holding(self) -> Any:
            assert admission is not None
            return admission.holding_read(self.app)

        def _bounded_read(self) -> bool:
            """A read the protocol admits or sheds: GET/HEAD, not an operations route, not pipelined
            behind a request in progress (uvicorn queues that one; the app decides when it runs)."""
            if self.cycle is not None and not self.cycle.response_complete:
                return False
            if self.parser.get_method() not in _SHEDDABLE_METHODS or self.parser.should_upgrade():
                return False
            path = httptools.parse_url(self.url).path.decode("ascii", "replace")
            return (urllib.parse.unquote(path) if "%" in path else path) not in EXEMPT

        def _shed(self, admission: Admission) -> None:
            admission.refuse()
            keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
            origin = next((value for name, value in self.headers if name == b"origin"), None)
            self.transport.write(_busy_response(admission, _cors_header(origin, allowed), keep_alive))
            cycle: object = self.cycle  # uvicorn types it as never None; it is None before the first request
            if cycle is None:  # the connection's first request
                # a stand-in with the cycle's attributes the protocol reads, not uvicorn's class
                self.cycle = _Answered()  # type: ignore[assignment]
            if self.transport.get_write_buffer_size() > _UNREAD_LIMIT:
                _drop(self.transport)
            elif not keep_alive:
                self.transport.close()
            else:
                self.on_response_complete()  # as uvicorn does after a response: keep-alive timer, next request

        def timeout_keep_alive_handler(self) -> None:
            # idle for the keep-alive time with answers still unsent: the client stopped reading them
            # (pipelined refusals it never reads). close() would wait for them to drain, for ever.
            if not self.transport.is_closing() and self.transport.get_write_buffer_size() > 0:
                _drop(self.transport)
                return
            super().timeout_keep_alive_handler()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol


def server_config(
    app: Any, settings: Settings, *, host: str = "127.0.0.1", port: int = 8000, log_level: str | None = None
) -> uvicorn.Config:
    """The uvicorn configuration every ``graphrec serve`` worker runs under (``app.state.admission``,
    set by :func:`api.main.create_app`, lets the protocol shed reads).

    Also sets the worker's thread switch interval (``GRAPHREC_GIL_SWITCH_MS``): the catalogue and
    co-interaction refreshes run in threads, and with Python's default 5 ms every socket operation of
    the request loop (a request has several) waited up to 5 ms for the GIL while one ran: the convoy
    effect, which turned a 2 s refresh into 2-6 s of p99 latency at half the saturation rate."""
    sys.setswitchinterval(settings.gil_switch_ms / 1000.0)
    # ... and lets the app settle its heap (api.heap): a served worker, not an app a test drives in-process
    if hasattr(app, "state"):
        app.state.settle_heap = True
    protocol = http_protocol(
        settings.header_timeout_s, getattr(app.state, "admission", None), settings.cors_origin_list
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        log_config=None,
        access_log=False,
        log_level=log_level or settings.log_level,
    )
