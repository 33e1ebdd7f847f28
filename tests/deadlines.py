"""Waits and threads in tests: each ends by a deadline, and one that fails fails its test.

Why: a loop with no deadline hangs the suite instead of failing one test, and a tight deadline fails a good
build on a loaded 2-core machine (the suite runs beside other work): one generous deadline, ``WAIT_S``, is
long enough for anything a passing test waits for there and short enough that a hang is a failure
(``START_S`` for a new process that imports the app, which costs far more than any in-process wait). An
exception (an ``assert`` included) in a ``threading.Thread`` target only prints a traceback and the test
goes on, so :class:`Threads` keeps what each target raised and :meth:`Threads.join` raises it in the test.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

WAIT_S = 60.0
# A fresh Python process that imports the app (torch, torch_geometric: about 5 s of CPU on a quiet core)
# and starts it: several times that on a loaded 2-core machine.
START_S = 180.0


def wait_until(
    condition: Callable[[], T],
    *,
    what: str,
    timeout_s: float = WAIT_S,
    interval_s: float = 0.05,
    detail: Callable[[], object] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that; past ``timeout_s`` fail
    the test with ``what`` (the awaited state, in words) so the report says what never happened, and
    ``detail()`` (the state seen at that moment) when given."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            seen = f"; seen: {detail()!r}" if detail is not None else ""
            raise AssertionError(f"waited {timeout_s:g} s for {what}, in vain{seen}")
        time.sleep(interval_s)


async def reach(condition: Callable[[], object], *, what: str, timeout_s: float = WAIT_S) -> None:
    """:func:`wait_until` for a coroutine: yield to the event loop until ``condition()`` holds, failing the
    test with ``what`` past ``timeout_s`` (a spin on ``asyncio.sleep(0)`` alone never ends if it never does)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() >= deadline:
            raise AssertionError(f"waited {timeout_s:g} s for {what}, in vain")
        await asyncio.sleep(0)


class Threads:
    """Threads a test starts with :meth:`start` and ends with :meth:`join`, which fails the test when one
    raised or is still running."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.errors: list[tuple[str, BaseException]] = []

    def start(self, target: Callable[..., Any], *args: Any, name: str | None = None) -> threading.Thread:
        """Run ``target(*args)`` in a new daemon thread (a hung one cannot keep pytest from exiting)."""

        def run() -> None:
            try:
                target(*args)
            except BaseException as exc:  # pytest.fail's exception too: join() raises it in the test
                with self._lock:
                    self.errors.append((threading.current_thread().name, exc))

        thread = threading.Thread(target=run, name=name or f"test-thread-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    def join(self, timeout_s: float = WAIT_S) -> None:
        """Wait for every thread (``timeout_s`` in all); fail if one is still running or one raised."""
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"threads still running after {timeout_s:g} s: {alive}"
        if self.errors:
            name, first = self.errors[0]
            rest = "".join(f"; {n}: {e!r}" for n, e in self.errors[1:])
            raise AssertionError(f"{name} failed: {first!r}{rest}") from first
