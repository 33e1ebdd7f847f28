"""MostPopular: ranks items by how many training users touched them (the floor any model must beat)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from graphrec.snapshot import Snapshot


class MostPopular:
    """Scores every user with the item's training degree."""

    name = "MostPopular"

    def __init__(self) -> None:
        self._popularity = np.zeros(0, dtype=np.float32)

    def fit(self, train: Snapshot) -> None:
        self._popularity = np.bincount(train.indices, minlength=train.n_items).astype(np.float32)

    def item_scores(self) -> np.ndarray:
        """The one score vector every user gets (the ranking sorts it once: no per-user score rows)."""
        return self._popularity

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._popularity, (len(users), len(self._popularity))).copy()

    def score_history(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Every row the training popularity, whatever the history (the new-user protocol's floor)."""
        return np.broadcast_to(self._popularity, (user_items.shape[0], len(self._popularity))).copy()
