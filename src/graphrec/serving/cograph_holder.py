"""Keeps the API's in-memory co-interaction index current (built off the request path)."""

from __future__ import annotations

import logging
import time

from graphrec.graph.port import GraphStore
from graphrec.recommend.cograph import CoInteractionIndex

logger = logging.getLogger(__name__)


class CoGraphHolder:
    """One reference swapped atomically; requests read ``index`` once and keep what they got."""

    def __init__(self, *, refresh_s: float, fanout: int = 50, co_items: int = 400) -> None:
        self.refresh_s = refresh_s
        self.fanout = fanout
        self.co_items = co_items
        self.index: CoInteractionIndex | None = None
        self._built_monotonic = float("-inf")
        self._retry_at = float("-inf")
        self._failures = 0

    @property
    def stale(self) -> bool:
        now = time.monotonic()
        return now - self._built_monotonic >= self.refresh_s and now >= self._retry_at

    def refresh(self, store: GraphStore) -> None:
        """Rebuild from a full read of the edges. A failed rebuild keeps the previous index and is
        retried after 5 s, 10 s, 20 s, ... (at most ``refresh_s``), not on every maintenance tick."""
        started = time.perf_counter()
        try:
            index = CoInteractionIndex.from_pages(store.iter_interactions(page_size=50_000),
                                                  fanout=self.fanout, co_items=self.co_items)
        except Exception:
            self._failures += 1
            self._retry_at = time.monotonic() + min(self.refresh_s, 5.0 * 2 ** (self._failures - 1))
            raise
        self._failures = 0
        self.index = index
        self._built_monotonic = time.monotonic()
        logger.info("co-interaction index: %s edges in %.2fs", f"{index.edges:,}", time.perf_counter() - started)
