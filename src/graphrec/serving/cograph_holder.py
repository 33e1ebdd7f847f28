"""Keeps the API's in-memory co-interaction index current (built off the request path)."""

from __future__ import annotations

import logging
import time

from graphrec import clock
from graphrec.graph.port import GraphStore
from graphrec.recommend.cograph import CoInteractionIndex

logger = logging.getLogger(__name__)


class CoGraphHolder:
    """One reference swapped atomically; requests read ``index`` once and keep what they got.

    ``index`` is ``None`` until a build succeeds (requests then use the store's own traversal).
    How often it is rebuilt, and the retries of a failed rebuild, are the caller's policy
    (:class:`graphrec.serving.refresh.Refresher`).
    """

    def __init__(self, *, fanout: int, co_items: int) -> None:
        self.fanout = fanout
        self.co_items = co_items
        self.index: CoInteractionIndex | None = None

    def refresh(self, store: GraphStore) -> None:
        """Rebuild from a full read of the edges; raises (keeping the previous index) when it fails.

        The index is dated when its read starts (``built_at_ms``): every edge written before then is in
        it, so an answer that says "as of" that time (``explain=true``'s ``graph_as_of_ms``) never claims
        an edge the read may have missed."""
        started = time.perf_counter()
        read_from_ms = clock.now_ms()
        index = CoInteractionIndex.from_pages(
            store.iter_interactions(page_size=50_000),
            built_at_ms=read_from_ms,
            fanout=self.fanout,
            co_items=self.co_items,
        )
        self.index = index
        logger.info("co-interaction index: %s edges in %.2fs", f"{index.edges:,}", time.perf_counter() - started)
