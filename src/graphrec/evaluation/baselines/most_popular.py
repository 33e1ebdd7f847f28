"""MostPopular: ranks items by how many training users touched them (the floor any model must beat)."""

from __future__ import annotations

import numpy as np

from graphrec.snapshot import Snapshot


class MostPopular:
    """Scores every user with the item's training degree."""

    name = "MostPopular"

    def __init__(self) -> None:
        self._popularity = np.zeros(0, dtype=np.float32)

    def fit(self, train: Snapshot) -> None:
        self._popularity = np.bincount(train.indices, minlength=train.n_items).astype(np.float32)

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._popularity, (len(users), len(self._popularity))).copy()
