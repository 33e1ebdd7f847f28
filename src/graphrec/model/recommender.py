"""GraphSAGE as an ``EvaluatedModel`` (:mod:`graphrec.evaluation.evaluated_model`: fit on a snapshot, score users)."""

from __future__ import annotations

import numpy as np

from graphrec.model.config import TrainConfig
from graphrec.model.trainer import Trainer, TrainResult
from graphrec.progress import Mode
from graphrec.snapshot import Snapshot


class GraphSAGERecommender:
    """Trains ``GraphSAGERec`` with ``Trainer`` and scores by dot product of final embeddings: an
    :class:`~graphrec.evaluation.evaluated_model.EvaluatedModel` (not the API's ``Recommender``).

    Args:
        config: training configuration; ``name`` labels the results row (e.g. ``MF-BPR`` with 0 layers).
    """

    def __init__(self, config: TrainConfig, *, name: str = "GraphSAGE", progress: Mode | bool = True) -> None:
        self.config = config
        self.name = name
        self.progress = progress
        self.result: TrainResult | None = None
        self.user_embeddings = np.zeros((0, config.encoder.dim), dtype=np.float32)
        self.item_embeddings = np.zeros((0, config.encoder.dim), dtype=np.float32)

    def fit(self, train: Snapshot) -> None:
        self.result = Trainer(self.config, progress=self.progress).fit(train)
        self.user_embeddings, self.item_embeddings = self.result.embeddings()

    def score(self, users: np.ndarray) -> np.ndarray:
        scores: np.ndarray = self.user_embeddings[users] @ self.item_embeddings.T
        return scores
