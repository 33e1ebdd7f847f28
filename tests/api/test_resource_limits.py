"""Issue 25, point 3: no resource exhaustion. Keys are checked before a body is read, every route has
a body limit and a body deadline, headers have a deadline, and malformed JSON of any depth or number
size is a 400 on every route.

The slow-client attacks run against a real ``graphrec serve`` process over real sockets (the header
deadline lives in the server's HTTP protocol, which an in-process client never reaches).
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import API_KEY
from tests.live_api import free_port, start_api, stop_api

SECRET = "limits-secret-key"
PUBLISHABLE = "pk_limits_publishable"
DEADLINE_S = 2.0  # header and body deadlines of the live server below


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, starts_processes: None) -> Iterator[int]:
    """One server for the module's slow-client tests: each closes its own sockets, and the canary of the
    ones that check slots asks the same server the attack holds (a fresh server per test cost a start each)."""
    tmp_path = tmp_path_factory.mktemp("limits")
    port = free_port()
    api = start_api(
        {
            "GRAPHREC_GRAPH_URI": f"embedded:{tmp_path / 'store'}",
            "GRAPHREC_FALKORDB_GRAPH": "limits",
            "GRAPHREC_DATA_DIR": str(tmp_path),
            "GRAPHREC_API_KEYS": SECRET,
            "GRAPHREC_PUBLISHABLE_KEYS": PUBLISHABLE,
            "GRAPHREC_PUBLISHABLE_ORIGINS": "*",
            "GRAPHREC_HEADER_TIMEOUT_S": str(DEADLINE_S),
            "GRAPHREC_BODY_TIMEOUT_S": str(DEADLINE_S),
            "GRAPHREC_RATE_LIMIT_PER_S": "100000",
            "GRAPHREC_RATE_LIMIT_BURST": "100000",
            "GRAPHREC_IP_RATE_LIMIT_PER_S": "100000",
            "GRAPHREC_IP_RATE_LIMIT_BURST": "100000",
        },
        port,
        log=tmp_path / "api.log",
    )
    try:
        yield port
    finally:
        stop_api(api)


@dataclass(frozen=True)
class Target:
    """The module's server, reached from an address of this test's own: the server throttles failed keys
    per client address, so a test's attempts must not spend the next test's budget."""

    port: int
    source: str


_SOURCES = itertools.count(2)


@pytest.fixture
def target(live: int) -> Target:
    return Target(live, f"127.0.0.{next(_SOURCES)}")


def _connect(target: Target) -> socket.socket:
    # every read below has this deadline
    return socket.create_connection(("127.0.0.1", target.port), timeout=30, source_address=(target.source, 0))


def _status(sock: socket.socket) -> int:
    """The status of the response on ``sock`` (reads until the status line is complete)."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed without a response (got {data!r})")
        data += chunk
    return int(data.split(b" ", 2)[1])


def _closed(sock: socket.socket) -> bool:
    """True once the server closed the connection (reads to its end, within the socket's deadline)."""
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return True


def _slow_body_head(port: int, path: str, *, key: str | None, length: int = 1_000) -> bytes:
    key_line = f"X-API-Key: {key}\r\n" if key else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{key_line}Content-Length: {length}\r\n\r\n"
    ).encode()


def _canary(target: Target, stop: threading.Event, statuses: Counter[int], errors: list[BaseException]) -> None:
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{target.port}",
            headers={"X-API-Key": SECRET},
            timeout=30,
            transport=httpx.HTTPTransport(local_address=target.source),  # the attackers' own address
        ) as c:
            while not stop.is_set():
                statuses[c.get("/v1/items/popular", params={"k": 5}).status_code] += 1
    except BaseException as exc:  # noqa: BLE001 - the test thread re-raises it
        errors.append(exc)


def _attack(target: Target, heads: list[bytes], seconds: float, statuses: Counter[int]) -> list[int]:
    """Open one socket per head, then trickle one body byte per second on each while a canary with a
    valid key keeps asking; returns the status each attacker got (0: none)."""
    canary_stop = threading.Event()
    errors: list[BaseException] = []
    canary = threading.Thread(target=_canary, args=(target, canary_stop, statuses, errors))
    socks = [_connect(target) for _ in heads]
    got = [0] * len(socks)
    try:
        for s, head in zip(socks, heads, strict=True):
            s.sendall(head)
        canary.start()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for s in socks:
                try:
                    s.sendall(b"[")
                except OSError:
                    pass  # refused and closed by the server: what the test wants
            time.sleep(1.0)
    finally:
        canary_stop.set()
        canary.join(timeout=60)
        for k, s in enumerate(socks):
            try:
                got[k] = _status(s)
            except OSError:
                got[k] = 0
            s.close()
    assert not canary.is_alive(), "the canary did not stop"
    if errors:
        raise errors[0]
    print(
        json.dumps(
            {
                "canary": {str(k): v for k, v in sorted(statuses.items())},  # pytest -s shows it
                "canary_ok_share": round(statuses[200] / max(sum(statuses.values()), 1), 4),
                "attackers": dict(Counter(got)),
            }
        )
    )
    return got


def test_slow_bodies_without_a_key_are_refused_before_their_body_and_take_no_slot(target: Target) -> None:
    statuses: Counter[int] = Counter()
    got = _attack(target, [_slow_body_head(target.port, "/v1/identify", key=None) for _ in range(24)], 5.0, statuses)
    # answered at the headers, the trickled body never waited for: 401, then 429 once the address made
    # too many failed attempts (which never locks out the canary's valid key from the same address)
    assert set(got) <= {401, 429} and got[0] == 401, got
    assert sum(statuses.values()) > 0
    assert statuses[200] / sum(statuses.values()) >= 0.9, statuses


def test_slow_bodies_with_a_valid_key_get_408_at_the_deadline_and_take_no_slot(target: Target) -> None:
    statuses: Counter[int] = Counter()
    heads = [_slow_body_head(target.port, "/v1/events", key=PUBLISHABLE) for _ in range(24)]
    got = _attack(target, heads, DEADLINE_S + 3.0, statuses)
    assert got == [408] * 24, got
    assert statuses[200] / sum(statuses.values()) >= 0.9, statuses


def test_a_declared_body_over_the_limit_is_refused_unread(target: Target) -> None:
    # 100 MB declared, nothing sent: the answer cannot have waited for the body
    for key, path, expected in (
        (None, "/v1/identify", 401),
        (SECRET, "/v1/identify", 413),
        (SECRET, "/v1/events", 413),
        (SECRET, "/v1/items", 413),
        ("wrong-key", "/v1/events", 401),
    ):
        sock = _connect(target)
        try:
            method = "PUT" if path == "/v1/items" else "POST"
            head = _slow_body_head(target.port, path, key=key, length=100_000_000)
            sock.sendall(head.replace(b"POST", method.encode(), 1))
            assert _status(sock) == expected, (key, path)
            assert _closed(sock)  # Connection: close, the rest is never read
        finally:
            sock.close()


def test_headers_that_trickle_get_408_and_the_connection_closes(target: Target) -> None:
    sock = _connect(target)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        status = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # one header byte per half second, never the blank line
            try:
                sock.sendall(b"X")
            except OSError:
                break
            sock.settimeout(0.5)
            try:
                status = _status(sock)
                break
            except TimeoutError:
                continue
        assert status == 408
    finally:
        sock.close()


def test_a_connection_that_sends_nothing_is_closed(target: Target) -> None:
    sock = _connect(target)
    try:
        assert _status(sock) == 408  # within the socket's 30 s deadline
        assert _closed(sock)
    finally:
        sock.close()


# -- bodies on every route (in-process: the guard and the routes are the app's) --------------------


def _body_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) whose OpenAPI operation takes a request body, with ids filled in."""
    routes = []
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        for method, op in operations.items():
            if "requestBody" in op:
                concrete = path.replace("{user_id}", "u1").replace("{item_id}", "i1").replace("{anonymous_id}", "a1")
                routes.append((method.upper(), concrete))
    return routes


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 5_000 + b"]" * 5_000,
        b'{"events": [' + b"9" * 5_000 + b"]}",
        b'{"a": ' + b"1" * 5_000 + b"}",
        b'{"x": [' * 2_000,
    ],
    ids=["deep", "long-number-in-events", "long-number", "deep-unclosed"],
)
def test_malformed_json_is_a_400_on_every_route(client: TestClient, body: bytes) -> None:
    routes = _body_routes(client)
    assert ("POST", "/v1/events") in routes and ("PUT", "/v1/items") in routes and len(routes) >= 7
    for method, path in routes:
        r = client.request(
            method, path, content=body, headers={"Content-Type": "application/json", "X-API-Key": API_KEY}
        )
        assert r.status_code == 400, (method, path, r.status_code, r.text)
        assert r.json()["detail"].startswith(("malformed JSON", "There was an error parsing the body")), r.text


def test_bodies_over_the_default_limit_are_413_on_small_routes(client: TestClient) -> None:
    big = b'{"anonymous_id": "' + b"a" * 70_000 + b'", "user_id": "u1"}'
    r = client.post("/v1/identify", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["detail"] == "request body exceeds the limit of 65536 bytes; send smaller batches"
