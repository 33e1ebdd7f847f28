"""Whether the graph store answers, and the watchdog that brings it back.

Why: during an outage every request that tries the store waits for it to fail (a connect timeout,
a driver retry) and then answers 503 or degrades anyway. Once one request has seen the store fail,
the API answers the next ones at once (writes 503 with ``Retry-After``, recommendations from the
in-memory state) until the watchdog's probe succeeds again; the probe also restarts a dead
embedded server (:meth:`graphrec.graph.port.GraphStore.recover`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor

from graphrec.graph.port import GraphStore

logger = logging.getLogger(__name__)


class StoreHealth:
    """Up or down since when; flipped by failed requests and by the watchdog's probes."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self.outages = 0
        self.last_error: str | None = None
        self._slow_in_a_row = 0

    @property
    def up(self) -> bool:
        return self._down_since is None

    @property
    def down_for_s(self) -> float:
        since = self._down_since
        return 0.0 if since is None else self._clock() - since

    def failed(self, reason: str) -> None:
        with self._lock:
            self.last_error = reason
            if self._down_since is not None:
                return
            self._down_since = self._clock()
            self.outages += 1
        logger.error("graph store unavailable: %s; answering without it until it is back", reason)

    def slow(self, reason: str, *, limit: int = 3) -> None:
        """A read took too long. A few in a row mean a hung store (it accepts connections but does
        not answer): treat it as down, so later requests stop waiting for it."""
        self._slow_in_a_row += 1
        if self._slow_in_a_row >= limit:
            self.failed(f"{self._slow_in_a_row} reads in a row timed out ({reason})")

    def answered(self) -> None:
        """A read came back in time (resets the run of slow reads)."""
        self._slow_in_a_row = 0

    def recovered(self) -> None:
        with self._lock:
            if self._down_since is None:
                return
            down = self._clock() - self._down_since
            self._down_since = None
            self.last_error = None
            self._slow_in_a_row = 0
        logger.warning("graph store is back after %.1f s", down)


async def watch_store(
    store: GraphStore, health: StoreHealth, *, interval_s: float, executor: Executor | None = None
) -> None:
    """Probe the store every ``interval_s``: ``ping`` while up, ``recover`` (restart it where it is
    graphrec's own) while down. Runs until cancelled; the probe runs on a thread of ``executor``
    (the default one when ``None``), which whoever closes the store must wait for."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(interval_s)
        probe = store.ping if health.up else store.recover
        try:
            ok = await loop.run_in_executor(executor, probe)
        except Exception as exc:  # a probe must never end the watchdog
            logger.warning("store probe failed", exc_info=True)
            ok, reason = False, f"{type(exc).__name__}: {exc}"
        else:
            reason = "the store did not answer a ping"
        if ok:
            health.recovered()
        else:
            health.failed(reason)
