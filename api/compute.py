"""Where recommendation work runs: a small executor sized to the machine, not Starlette's pool.

Why: the work is CPU-bound Python/numpy holding the GIL between short store calls. Starlette's
default pool (40 threads) lets 32 concurrent requests thrash the GIL on a 2-core box (measured
120 rps at concurrency 32 against ~300 rps at concurrency 1); a pool of a few threads keeps the
store I/O off the event loop while requests queue cheaply on the loop instead.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request

T = TypeVar("T")


async def run_compute(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(request.app.state.compute, functools.partial(fn, *args, **kwargs))
