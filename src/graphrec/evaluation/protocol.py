"""The small interface every model evaluated by graphrec implements (GraphSAGE and baselines alike).

Evaluation only needs ``fit`` on a training snapshot and dense ``score`` for a batch of users; the
harness removes training items and ranks the full catalogue, so every model is judged the same way.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from graphrec.snapshot import Snapshot


@runtime_checkable
class Recommender(Protocol):
    """``fit`` once, then ``score`` users; ``name`` labels the model's row in the results table."""

    name: str

    def fit(self, train: Snapshot) -> None: ...

    def score(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), n_items)`` float32 scores, higher is better."""
        ...
