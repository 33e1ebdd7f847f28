"""Awaitable user-history reads for a store whose driver only blocks: the read runs on a thread.

Used for Neo4j (its adapter is built on the synchronous driver). FalkorDB has a native asyncio
reader (:mod:`graphrec.graph.falkordb_async`).
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from graphrec.graph.records import UserHistory

if TYPE_CHECKING:
    from graphrec.graph.port import InteractionStore


class ThreadedHistoryReader:
    """``store.user_history`` on a small pool of its own, so reads never queue behind other work."""

    def __init__(self, store: InteractionStore, *, threads: int = 4) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="graphrec-history")

    async def user_history(self, *, user_id: str, limit: int = 200) -> UserHistory:
        read = functools.partial(self._store.user_history, user_id=user_id, limit=limit)
        return await asyncio.get_running_loop().run_in_executor(self._pool, read)

    async def user_item_ids(self, *, user_id: str) -> frozenset[str]:
        read = functools.partial(self._store.user_item_ids, user_id=user_id)
        return await asyncio.get_running_loop().run_in_executor(self._pool, read)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False)
