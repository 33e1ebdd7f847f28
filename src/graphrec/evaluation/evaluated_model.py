"""``EvaluatedModel``: the small interface every model evaluated offline implements (GraphSAGE and the
baselines alike).

Evaluation only needs ``fit`` on a training snapshot and dense ``score`` for a batch of users; the
harness removes training items and ranks the full catalogue, so every model is judged the same way.

Why not ``Recommender``: that name belongs to the API's use case
(:class:`graphrec.recommend.recommender.Recommender`, which reads the store and records what it
served). An evaluated model does neither: it is fitted on a snapshot and scores every item.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from graphrec.snapshot import Snapshot


@runtime_checkable
class EvaluatedModel(Protocol):
    """``fit`` once, then ``score`` users; ``name`` labels the model's row in the results table."""

    name: str

    def fit(self, train: Snapshot) -> None: ...

    def score(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), n_items)`` float32 scores, higher is better: a new array, which the ranking
        overwrites in place (seen items), never a view of the model's own state."""
        ...
