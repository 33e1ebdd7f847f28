"""Matrix factorisation baseline: implicit-feedback ALS (Hu, Koren & Volinsky 2008) via ``implicit``.

Confidence ``1 + alpha * w``; the factors are fit on the training CSR only.
"""

from __future__ import annotations

import numpy as np

from graphrec.snapshot import Snapshot


class ImplicitALS:
    """Wraps ``implicit.cpu.als.AlternatingLeastSquares`` behind the ``EvaluatedModel`` protocol
    (:mod:`graphrec.evaluation.evaluated_model`).

    Args:
        factors: latent dimension; regularization: L2 on factors; alpha: confidence scaling;
        iterations: ALS sweeps; seed: factor initialisation seed.
    """

    name = "ALS"

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 2.0,
        iterations: int = 20,
        seed: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed
        self._users = np.zeros((0, factors), dtype=np.float32)
        self._items = np.zeros((0, factors), dtype=np.float32)

    def fit(self, train: Snapshot) -> None:
        from implicit.cpu.als import AlternatingLeastSquares  # optional heavy import, only when used
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads thrash
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=0,
            )
            model.fit(train.matrix("weights").astype(np.float32), show_progress=False)
        self._users = np.asarray(model.user_factors)
        self._items = np.asarray(model.item_factors)

    def score(self, users: np.ndarray) -> np.ndarray:
        scores: np.ndarray = (self._users[users] @ self._items.T).astype(np.float32, copy=False)
        return scores
