"""Neo4j Graph Data Science, used as a baseline: FastRP embeddings + kNN similar items on a split.

Why here and not in the evaluation layer: it is Cypher sent to Neo4j, so it lives beside the
adapter, with its statements in ``graphrec.graph.cypher.neo4j`` (linted with the rest). The graph is projected
from the training edges passed as a parameter and dropped afterwards, so nothing in the database
changes and the baseline sees exactly the edges the other models train on.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import LiteralString

import numpy as np
from neo4j import Driver, RoutingControl

from graphrec.graph.cypher.neo4j import NEO4J as q


@dataclass(frozen=True, slots=True)
class FastRPConfig:
    """FastRP over the undirected user-item graph; even hops carry item-item signal."""

    dim: int = 128
    iteration_weights: tuple[float, ...] = (0.0, 1.0, 1.0, 0.5)
    normalization: float = -0.5  # damp popular items (the knob the GDS docs suggest tuning first)
    neighbours: int = 100  # kNN topK per item
    seed: int = 42


class GdsClient:
    """GDS procedures on one Neo4j database (from :meth:`Neo4jStore.gds`)."""

    def __init__(self, driver: Driver, database: str) -> None:
        self._driver = driver
        self._db = database

    def available(self) -> bool:
        records = self._driver.execute_query(q.GDS_AVAILABLE, routing_=RoutingControl.READ, database_=self._db).records
        return bool(records and records[0][0])

    def item_knn(
        self,
        users: np.ndarray,
        items: np.ndarray,
        weights: np.ndarray,
        *,
        n_users: int,
        cfg: FastRPConfig | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(item_a, item_b, cosine)`` of each item's ``cfg.neighbours`` nearest items by FastRP."""
        cfg = cfg or FastRPConfig()
        graph = f"graphrec-fastrp-{secrets.token_hex(6)}"
        # One projection: the aggregation must see every edge in one query, so the edges go in one
        # parameter (a few MB for a million edges), as [user, item + n_users, weight] rows.
        rows = np.column_stack(
            [np.asarray(users, np.float64), np.asarray(items, np.float64) + n_users, np.asarray(weights, np.float64)]
        ).tolist()
        rows = [[int(u), int(i), w] for u, i, w in rows]
        try:
            self._write(q.GDS_PROJECT_EDGES, graph=graph, edges=rows)
            self._write(
                q.GDS_FASTRP_MUTATE,
                graph=graph,
                dim=cfg.dim,
                iteration_weights=list(cfg.iteration_weights),
                normalization=cfg.normalization,
                seed=cfg.seed,
            )
            pairs = self._write(q.GDS_KNN_ITEMS, graph=graph, k=cfg.neighbours, seed=cfg.seed)
        finally:
            self._write(q.GDS_DROP_GRAPH, graph=graph)
        if not pairs:
            empty = np.zeros(0, np.int64)
            return empty, empty, np.zeros(0)
        a, b, sim = (np.array(col) for col in zip(*pairs, strict=True))
        return a.astype(np.int64) - n_users, b.astype(np.int64) - n_users, sim.astype(np.float64)

    def _write(self, query: LiteralString, **params: object) -> list[tuple[object, ...]]:
        records = self._driver.execute_query(query, params, routing_=RoutingControl.WRITE, database_=self._db).records
        return [tuple(r.values()) for r in records]
