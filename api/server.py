"""How the API is put on a socket: uvicorn with a deadline on every request's headers.

Why a protocol of our own: uvicorn's HTTP protocol waits without limit for a request's headers. Its
keep-alive timer covers only the quiet time between two requests and is cancelled by the first byte
that arrives, and a fresh connection has no timer at all; so connections that trickle header bytes
(slowloris) or send nothing are held open for ever. :func:`http_protocol` adds one timer per
connection, armed when it opens and when a new request starts, disarmed when the headers are
complete; past it the connection gets a 408 and is closed. (Bodies have their own deadline in
:mod:`api.request_guard`.)

``graphrec serve`` (one worker or several) runs the API through :func:`server_config`; the bare
``uvicorn api.main:create_worker_app --factory`` form works too, without the header deadline.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from graphrec.config import Settings

_TIMEOUT_BODY = b'{"detail": "the request headers did not arrive in time"}'
_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                     b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY))


def http_protocol(header_timeout_s: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with a ``header_timeout_s`` deadline on each request's headers."""

    class HeaderDeadlineProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

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
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderDeadlineProtocol


def server_config(app: Any, settings: Settings, *, host: str = "127.0.0.1", port: int = 8000,
                  log_level: str | None = None) -> uvicorn.Config:
    """The uvicorn configuration every ``graphrec serve`` worker runs under."""
    return uvicorn.Config(app, host=host, port=port, http=http_protocol(settings.header_timeout_s), log_config=None,
                          access_log=False, log_level=log_level or settings.log_level)
