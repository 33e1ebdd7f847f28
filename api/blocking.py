"""Where a request's blocking store calls run: a small executor, not Starlette's 40-thread pool.

Why: recommendation math is CPU-bound Python/numpy that holds the GIL anyway, so the
recommendations route computes on the event loop and awaits its one store read
(``GraphStore.history_reader``). Routes that still make blocking driver calls (similar items, the
store's own traversal when no in-memory index is built) run them here. Measured at concurrency 32
on 2 cores, recommendations computed on 4 pool threads gave 288 rps, on 1 thread 355 rps (threads
fight the loop for the GIL); Starlette's default pool (40 threads) thrashes the GIL outright.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request

T = TypeVar("T")


async def run_blocking(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app.state.blocking, functools.partial(fn, *args, **kwargs))
