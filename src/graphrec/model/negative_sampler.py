"""Negative sampling for BPR: uniform over items (rejecting known positives) and hard candidates.

Everything is vectorised: a positive is found by binary search on sorted ``user * n_items + item``
keys, and rejected draws are redrawn a few rounds (the residue, vanishing on sparse graphs, is kept).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class NegativeSampler:
    """Draws items a user has not interacted with.

    Args:
        user_items: ``(n_users, n_items)`` training CSR (its pattern defines the positives).
        rng: numpy generator (seeded by the trainer, so runs are reproducible).
        rounds: redraw rounds for draws that hit a positive.
        dense_limit: use a dense ``n_users * n_items`` bitmap up to this many cells.
    """

    def __init__(
        self, user_items: sp.csr_matrix, rng: np.random.Generator, *, rounds: int = 5, dense_limit: int = 50_000_000
    ) -> None:
        m = user_items.tocsr()
        m.sort_indices()
        self._pattern = sp.csr_matrix((np.ones(m.nnz, dtype=np.int8), m.indices, m.indptr), shape=m.shape)
        self.n_items = m.shape[1]
        rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
        self._keys = rows * self.n_items + m.indices.astype(np.int64)
        self.rng = rng
        self.rounds = rounds
        # small graphs: a dense bitmap answers membership ~10x faster than binary search
        self._dense: np.ndarray | None = None
        if m.shape[0] * m.shape[1] <= dense_limit:
            self._dense = np.zeros(m.shape[0] * m.shape[1], dtype=bool)
            self._dense[self._keys] = True

    def is_positive(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users.astype(np.int64) * self.n_items + items.astype(np.int64)
        if self._dense is not None:
            dense_hits: np.ndarray = self._dense[keys]
            return dense_hits
        pos = np.searchsorted(self._keys, keys)
        pos = np.minimum(pos, len(self._keys) - 1)
        return self._keys[pos] == keys if len(self._keys) else np.zeros(len(keys), bool)

    def uniform(self, users: np.ndarray, per_user: int = 1) -> np.ndarray:
        """``(len(users), per_user)`` item indices, none of them a training positive of the user."""
        users_rep = np.repeat(users, per_user)
        items = self.rng.integers(0, self.n_items, size=len(users_rep))
        for _ in range(self.rounds):
            bad = np.flatnonzero(self.is_positive(users_rep, items))
            if len(bad) == 0:
                break
            items[bad] = self.rng.integers(0, self.n_items, size=len(bad))
        return items.reshape(len(users), per_user)

    def shared(self, count: int) -> np.ndarray:
        """``count`` items drawn uniformly with replacement, one set the whole batch shares as negatives."""
        return self.rng.integers(0, self.n_items, size=count)

    def positive_mask(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """``(len(users), len(items))`` bool: whether ``items[j]`` is a training positive of ``users[i]``.

        One sparse row-then-column slice of the pattern (cost ~ the rows' edges + the columns), not a
        lookup per cell: a 8,192 x 1,024 grid is 8M cells but only the rows' few hundred thousand edges."""
        sub = self._pattern[users][:, items].tocoo()
        mask = np.zeros((len(users), len(items)), dtype=bool)
        mask[sub.row, sub.col] = True
        return mask
