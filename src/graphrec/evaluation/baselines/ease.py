"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): a closed-form item-item model.

``B = argmin ||X - X B||² + λ||B||²`` subject to ``diag(B) = 0`` has the solution
``P = (XᵀX + λI)⁻¹``, ``B_ij = -P_ij / P_jj`` (``B_jj = 0``). A user's scores are ``x_u B``. It is
among the strongest baselines on MovieLens-sized data, which is why GraphSAGE is measured against it.

The bound: the Gram matrix, its inverse and ``B`` are dense ``n_items x n_items`` float64 arrays
(``n_items² x 8`` bytes each, about three alive at once: 3.2 GB each at 20,000 items, 13.4 GB at
41,000) and the inverse costs ``O(n_items³)``. :class:`EASE` refuses a catalogue above ``max_items``
with one line naming the bound, the memory it would need and the setting (``graphrec evaluate``'s
``ease_max_items``); the evaluation's row then says ``skipped`` with that line. Why refuse rather
than fit the N most popular items: a row over a smaller catalogue would sit in the table beside
full-catalogue rows as if it were comparable.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from graphrec.snapshot import Snapshot


class CatalogueTooLarge(ValueError):
    """The model's dense item-item matrix would not fit the configured bound."""


class EASE:
    """Closed-form linear item-item autoencoder over binary interactions.

    Args:
        l2: the ridge penalty λ on ``B`` (larger for denser data; tuned on validation).
        max_items: largest catalogue fitted (the Gram matrix and its inverse are dense).
    """

    name = "EASE"

    def __init__(self, *, l2: float = 500.0, max_items: int = 20_000) -> None:
        self.l2 = l2
        self.max_items = max_items
        self._user_items = sp.csr_matrix((0, 0), dtype=np.float32)
        self._weights = np.zeros((0, 0), dtype=np.float32)

    def fit(self, train: Snapshot) -> None:
        if train.n_items > self.max_items:
            gib = train.n_items**2 * 8 / 2**30
            raise CatalogueTooLarge(
                f"EASE needs dense {train.n_items:,} x {train.n_items:,} float64 item matrices "
                f"({gib:.1f} GiB each, ~3 at once); this catalogue is above max_items={self.max_items:,} "
                "(graphrec evaluate: ease_max_items)"
            )
        x = train.matrix("ones").tocsr().astype(np.float64)
        gram = np.asarray((x.T @ x).todense())
        diagonal = np.arange(train.n_items)
        gram[diagonal, diagonal] += self.l2
        p = np.linalg.inv(gram)
        b = p / -np.diag(p)
        b[diagonal, diagonal] = 0.0
        self._weights = b.astype(np.float32)
        self._user_items = x.astype(np.float32)

    def score(self, users: np.ndarray) -> np.ndarray:
        return np.asarray(self._user_items[users] @ self._weights, dtype=np.float32)
