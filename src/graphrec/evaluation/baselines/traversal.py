"""The store's 2-hop traversal scorer as an evaluated model (what the API serves without embeddings)."""

from __future__ import annotations

import numpy as np

from graphrec.scoring.traversal import TraversalScorer
from graphrec.snapshot import Snapshot


class TraversalRecommender:
    """Adapts ``TraversalScorer`` (the API's capped traversal) to the ``EvaluatedModel`` protocol
    (:mod:`graphrec.evaluation.evaluated_model`).

    Args:
        half_life_days: seed decay half-life (``None``: no decay, every seed counts its raw weight).
        seed_items: cap on the most recent seeds per user, as the store's ``seed_items``.
        fanout, co_items: the API's caps (``traversal_fanout``, ``cograph_co_items``).
    """

    name = "Traversal"

    def __init__(
        self,
        *,
        half_life_days: float | None = None,
        seed_items: int | None = None,
        fanout: int = 50,
        co_items: int = 400,
    ) -> None:
        self.half_life_days = half_life_days
        self.seed_items = seed_items
        self.fanout = fanout
        self.co_items = co_items
        self._scorer: TraversalScorer | None = None

    def fit(self, train: Snapshot) -> None:
        self._scorer = TraversalScorer(
            train.matrix("weights"),
            train.matrix("timestamps"),
            half_life_days=self.half_life_days,
            seed_items=self.seed_items,
            fanout=self.fanout,
            co_items=self.co_items,
        )

    def score(self, users: np.ndarray) -> np.ndarray:
        if self._scorer is None:
            raise RuntimeError("fit() first")
        return self._scorer.score(users)
