"""Open-loop HTTP/1.1 load: requests leave at fixed times whatever the server does.

Why not httpx: at a few hundred requests/s its per-request cost (about a millisecond of Python)
made the generator the bottleneck on a 2-core box. Once it fell behind, its connection pool's
waiting list grew and it never caught up, so one run reported a 15 s p99 for ``/healthz`` while
the server sat idle. This client writes requests by hand on keep-alive connections over uvloop
(tens of microseconds each) and reports how late its own sends were, so a run where the
generator could not keep up is visible rather than blamed on the server.

Latency is measured from each request's *scheduled* send time, so queueing anywhere (client,
kernel, server) counts and there is no coordinated omission.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import numpy as np
import uvloop


class _Pool:
    """Idle keep-alive connections; a new one is opened whenever none is idle (up to ``limit``)."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port = host, port
        self.idle: deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = deque()
        self.slots = asyncio.Semaphore(limit)
        self.opened = 0

    async def get(self) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter], bool]:
        """A connection and whether it was reused (the server may have closed an idle one)."""
        await self.slots.acquire()
        if self.idle:
            return self.idle.pop(), True
        return await self.fresh(), False

    async def fresh(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    def put(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
        if conn is not None:
            self.idle.append(conn)
        self.slots.release()

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


async def exchange(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes) -> int:
    """Send one GET and read its whole response; the HTTP status."""
    reader, writer = conn
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _run(
    host: str,
    port: int,
    paths: list[str],
    rate: float,
    seconds: float,
    max_connections: int,
    headers: dict[str, str],
) -> dict[str, float]:
    n = int(rate * seconds)
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    requests = [f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}\r\n".encode() for p in paths]
    pool = _Pool(host, port, max_connections)
    latencies = np.full(n, np.nan)
    errors = 0
    lag = 0.0
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors
        conn = None
        request = requests[i % len(requests)]
        try:
            conn, reused = await pool.get()
            try:
                status = await exchange(conn, request)
            except (OSError, asyncio.IncompleteReadError):
                if not reused:
                    raise
                # the server closed this idle keep-alive connection: retry once on a new one, as
                # HTTP clients do for an idempotent GET
                conn[1].close()
                conn = await pool.fresh()
                status = await exchange(conn, request)
            errors += status != 200
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            conn = None
        finally:
            pool.put(conn)
        latencies[i] = (time.perf_counter() - scheduled) * 1000

    cpu0 = time.process_time()
    start = time.perf_counter() + 0.2
    for i in range(n):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            lag = max(lag, -delay)
        task = asyncio.create_task(one(i, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*list(tasks))
    pool.close()
    done = latencies[~np.isnan(latencies)]
    return {
        "offered_rps": round(rate, 1),
        "requests": n,
        "errors": errors,
        "p50_ms": round(float(np.percentile(done, 50)), 2),
        "p99_ms": round(float(np.percentile(done, 99)), 2),
        "max_send_lag_ms": round(lag * 1000, 2),
        "connections": pool.opened,
        "client_cpu_ms_per_request": round((time.process_time() - cpu0) * 1000 / max(n, 1), 3),
    }


def open_loop(
    host: str,
    port: int,
    paths: list[str],
    rate: float,
    seconds: float,
    *,
    max_connections: int = 256,
    headers: dict[str, str] | None = None,
) -> dict[str, float]:
    """Offer ``rate`` requests/s for ``seconds`` (cycling over ``paths``, each sent with ``headers``);
    latency percentiles."""
    return uvloop.run(_run(host, port, paths, rate, seconds, max_connections, headers or {}))
