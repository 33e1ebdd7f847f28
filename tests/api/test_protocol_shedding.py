"""The HTTP protocol sheds reads over budget before the app (api/server.py, issue 25 point 5).

A real uvicorn server on a socket, run through ``server_config`` as ``graphrec serve`` runs it, over a
small app whose read budget the test fills by hand: what is checked is the protocol's own answer
(status, headers, keep-alive, CORS, the count in the metrics) and that everything it must not shed
still reaches the app. The full API under a burst is bench/overload.py's job.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from deadlines import WAIT_S, Threads, wait_until
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from api.observability import Metrics
from api.server import server_config
from api.shedding import Admission, ConcurrencyLimit
from graphrec.config import Settings
from tests.live_api import free_port

DEADLINE_S = WAIT_S  # server start and stop, every socket read
ORIGIN = "https://shop.example"


class RefuseMarked:
    """Answers 401 to requests marked ``x-refuse`` before they reach the limit (like a wrong key)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(name == b"x-refuse" for name, _ in scope["headers"]):
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


class _Served:
    def __init__(
        self,
        port: int,
        admission: Admission,
        metrics: Metrics,
        reached: list[str],
        release: threading.Event,
        server: uvicorn.Server,
    ) -> None:
        self.port, self.admission, self.metrics, self.reached = port, admission, metrics, reached
        self.release, self.server = release, server

    def open_connections(self) -> int:
        """Connections the server still holds (uvicorn's own set of live protocols)."""
        return len(self.server.server_state.connections)

    def shed_count(self) -> float:
        return self.metrics.shed.labels("concurrency")._value.get()


@pytest.fixture
def served() -> Iterator[_Served]:
    metrics = Metrics()
    admission = Admission(read_limit=2, write_limit=2, metrics=metrics)
    reached: list[str] = []
    release = threading.Event()
    app = FastAPI()
    app.state.admission = admission

    @app.get("/v1/thing")
    def thing() -> dict[str, str]:
        reached.append("GET /v1/thing")
        return {"ok": "yes"}

    @app.post("/v1/thing")
    def post_thing() -> dict[str, str]:
        reached.append("POST /v1/thing")
        return {"ok": "posted"}

    @app.get("/v1/slow")
    def slow() -> dict[str, str]:
        reached.append("GET /v1/slow")
        assert release.wait(DEADLINE_S), "the test never released the slow reads"
        return {"ok": "slow"}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        reached.append("GET /healthz")
        return {"status": "ok"}

    app.add_middleware(ConcurrencyLimit, limit=2, metrics=metrics, admission=admission)
    app.add_middleware(RefuseMarked)  # outside the limit, as the key check is in the API
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN], allow_methods=["GET", "POST"])
    port = free_port()
    settings = Settings(cors_origins=ORIGIN)
    server = uvicorn.Server(server_config(app, settings, port=port, log_level="error"))
    threads = Threads()  # the server's thread: an exception in it fails the test at join
    threads.start(server.run, name="uvicorn")
    wait_until(lambda: server.started or threads.errors, what="the server to start")
    assert not threads.errors, threads.errors
    try:
        yield _Served(port, admission, metrics, reached, release, server)
    finally:
        release.set()
        server.should_exit = True
        threads.join(DEADLINE_S)


def _exchange(sock: socket.socket, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one request and read one complete response (Content-Length framed)."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a body"
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
    sock.settimeout(DEADLINE_S)
    return sock


def _closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _get(path: str, *extra: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "Host: test", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_read_over_budget_is_answered_503_by_the_protocol_and_the_connection_stays_usable(served: _Served) -> None:
    served.admission.reads = served.admission.read_limit  # every read slot taken
    with _connect(served.port) as sock:
        for _ in range(3):  # first request of the connection, then kept-alive ones
            status, headers, body = _exchange(sock, _get("/v1/thing"))
            assert status == 503
            assert headers["retry-after"] == "1"
            assert b"server busy" in body
            assert "connection" not in headers
        assert served.reached == []  # never reached the app
        assert served.shed_count() == 3
        served.admission.reads = 0  # slots free again: the same connection is served
        status, _, body = _exchange(sock, _get("/v1/thing"))
        assert (status, body) == (200, b'{"ok":"yes"}')
    assert served.reached == ["GET /v1/thing"]


def test_health_checks_and_writes_are_never_shed_by_the_protocol(served: _Served) -> None:
    served.admission.reads = served.admission.read_limit
    with _connect(served.port) as sock:
        assert _exchange(sock, _get("/healthz"))[0] == 200
        post = b"POST /v1/thing HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n"
        assert _exchange(sock, post)[0] == 200
    assert served.reached == ["GET /healthz", "POST /v1/thing"]
    assert served.shed_count() == 0


def test_a_refusal_carries_cors_headers_for_an_allowed_origin_only(served: _Served) -> None:
    served.admission.reads = served.admission.read_limit
    with _connect(served.port) as sock:
        _, headers, _ = _exchange(sock, _get("/v1/thing", f"Origin: {ORIGIN}"))
        assert headers["access-control-allow-origin"] == ORIGIN
        assert "Retry-After" in headers["access-control-expose-headers"]
        _, headers, _ = _exchange(sock, _get("/v1/thing", "Origin: https://evil.example"))
        assert "access-control-allow-origin" not in headers


def test_http_1_0_and_connection_close_get_their_refusal_and_a_closed_connection(served: _Served) -> None:
    served.admission.reads = served.admission.read_limit
    for request in (_get("/v1/thing", version="1.0"), _get("/v1/thing", "Connection: close")):
        with _connect(served.port) as sock:
            status, headers, _ = _exchange(sock, request)
            assert (status, headers.get("connection")) == (503, "close")
            assert _closed(sock)


def test_a_client_that_never_reads_its_refusals_is_let_go(served: _Served) -> None:
    """Refusals are written without waiting for the client to read them, so a client that pipelines
    reads and never reads the answers must not be held on to: the server drops it once its unread
    answers pass the limit (a reset), or closes it when it has been idle for the keep-alive time (the
    kernel may have stalled the client's sends; which of the two comes first is up to TCP, so the test
    checks the server's side: the connection is let go, whatever the client learns of it)."""
    served.admission.reads = served.admission.read_limit
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
    sock.settimeout(1.0)
    sock.connect(("127.0.0.1", served.port))
    stop = threading.Event()
    request = _get("/v1/thing")

    def pipeline_without_reading() -> None:
        while not stop.is_set():
            try:
                sock.sendall(request * 500)
            except TimeoutError:
                continue  # the server is not reading (or TCP stalled): keep pushing until told to stop
            except OSError:
                return  # reset or broken pipe: the server dropped us

    threads = Threads()
    try:
        wait_until(lambda: served.open_connections() == 1, what="the server to accept the connection", interval_s=0.01)
        threads.start(pipeline_without_reading, name="pipeliner")
        wait_until(lambda: served.shed_count() > 1_000, what="refusals to be written", interval_s=0.01)
        wait_until(lambda: served.open_connections() == 0, what="the server to let the connection go", interval_s=0.01)
    finally:
        stop.set()
        threads.join()
        sock.close()


def test_reads_in_flight_hold_their_slots_and_the_next_is_refused_until_one_ends(served: _Served) -> None:
    with _connect(served.port) as a, _connect(served.port) as b, _connect(served.port) as c:
        a.sendall(_get("/v1/slow"))
        b.sendall(_get("/v1/slow"))
        wait_until(lambda: len(served.reached) == 2, what="two slow reads in the handler", interval_s=0.01)
        assert served.admission.reads == 2
        status, _, _ = _exchange(c, _get("/v1/thing"))
        assert status == 503 and served.shed_count() == 1
        served.release.set()
        assert _exchange(a, b"")[0] == 200 and _exchange(b, b"")[0] == 200
        wait_until(lambda: served.admission.reads == 0, what="both slots given back", interval_s=0.01)
        assert _exchange(c, _get("/v1/thing"))[0] == 200


def test_a_slot_is_given_back_whatever_answers_the_read(served: _Served) -> None:
    with _connect(served.port) as sock:
        for request, status in (
            (_get("/v1/thing"), 200),
            (_get("/v1/missing"), 404),
            (_get("/v1/thing", "X-Refuse: 1"), 401),
        ):
            assert _exchange(sock, request)[0] == status
            wait_until(lambda: served.admission.reads == 0, what=f"the slot of a {status} given back", interval_s=0.01)
    assert served.shed_count() == 0
