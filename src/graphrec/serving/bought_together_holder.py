"""Keeps the API's frequently-bought-together index current (built off the request path)."""

from __future__ import annotations

import logging
import time

from graphrec import clock
from graphrec.graph.port import GraphStore
from graphrec.graph.records import InteractionPage
from graphrec.recommend.bought_together import BoughtTogetherIndex

logger = logging.getLogger(__name__)


class BoughtTogetherHolder:
    """One reference swapped atomically; requests read ``index`` once and keep what they got.

    Empty until a build succeeds. How often it is rebuilt (with the co-interaction index), and the
    retries of a failed rebuild, are the caller's policy (:class:`graphrec.serving.refresh.Refresher`).
    The index keeps item pairs and counts, no actor ids: an erased user's purchases leave the counts
    at the next rebuild.
    """

    def __init__(self, *, neighbours: int, actors_per_client: int | None) -> None:
        self.neighbours = neighbours
        self.actors_per_client = actors_per_client
        self.index = BoughtTogetherIndex.empty()

    def refresh(self, store: GraphStore) -> None:
        """Rebuild from a full read of the basket edges; raises (keeping the previous index) when it fails."""
        started = time.perf_counter()
        edges = InteractionPage.concat(list(store.iter_basket_edges(page_size=50_000)))
        index = BoughtTogetherIndex.build(
            edges, built_ms=clock.now_ms(), actors_per_client=self.actors_per_client, neighbours=self.neighbours
        )
        self.index = index
        logger.info(
            "bought-together index: %s pairs from %s basket edges in %.2fs",
            f"{index.pairs:,}",
            f"{len(edges.item_ids):,}",
            time.perf_counter() - started,
        )
