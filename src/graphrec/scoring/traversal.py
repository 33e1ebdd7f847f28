"""The 2-hop co-interaction scorer, in numpy/scipy, with the formula the graph store uses.

A path ``user -> seed item -> co-user -> candidate`` scores
``decay(w_seed) * w_co / sqrt(deg(seed) * deg(candidate))``; a candidate's score is the sum over its
paths, seeds are the user's items (optionally only the ``seed_items`` most recent), and the user's
own items are never candidates. ``deg`` counts an item's users. The store additionally caps the
fan-out at every hop (``fanout``); the matrix form here is uncapped, so on graphs with hubs the
store's scores are a truncation of these (identical when no cap binds).

Why a second implementation: evaluation needs it over every user at once (two sparse products),
while the API asks the store for one user at a time.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from graphrec.events.decay import decay_weights


class TraversalScorer:
    """Scores all items for a batch of users by 2-hop traversal.

    Args:
        weights: ``(n_users, n_items)`` CSR of undecayed edge weights (``w_co`` is read from it).
        last_ts: CSR with the same structure holding each edge's ``last_ts`` in epoch ms.
        half_life_days: half-life of the seed decay; ``None`` disables decay.
        seed_items: use only each user's ``seed_items`` most recent items as seeds (``None`` = all).
    """

    def __init__(
        self,
        weights: sp.csr_matrix,
        last_ts: sp.csr_matrix,
        *,
        half_life_days: float | None = None,
        seed_items: int | None = None,
    ) -> None:
        self.weights = weights.tocsr().astype(np.float64)
        self.last_ts = last_ts.tocsr()
        self.half_life_days = half_life_days
        self.seed_items = seed_items
        binary = self.weights.copy()
        binary.data = np.ones_like(binary.data)
        self._binary_t = binary.T.tocsr()  # item x user
        self._weights_t = self.weights.T.tocsr()  # item x user, w_co
        deg = np.asarray(binary.sum(0)).ravel()
        self._inv_sqrt_deg = np.divide(1.0, np.sqrt(deg), out=np.zeros_like(deg), where=deg > 0)

    def _seeds(self, users: np.ndarray, now_ms: int) -> sp.csr_matrix:
        w = self.weights[users]
        ts = self.last_ts[users]
        data = w.data
        if self.half_life_days is not None:
            data = decay_weights(w.data, ts.data, now_ms=now_ms, half_life_days=self.half_life_days)
        seeds = sp.csr_matrix((np.asarray(data, np.float64), w.indices, w.indptr), shape=w.shape)
        if self.seed_items is not None:
            rows = np.repeat(np.arange(len(users)), np.diff(w.indptr))
            order = np.lexsort((-ts.data.astype(np.float64), rows))
            pos = np.empty(len(order), dtype=np.int64)
            pos[order] = np.arange(len(order)) - w.indptr[rows[order]]
            seeds.data = np.where(pos < self.seed_items, seeds.data, 0.0)
            seeds.eliminate_zeros()
        return seeds

    def score(self, users: np.ndarray, *, now_ms: int) -> np.ndarray:
        """``(len(users), n_items)`` scores; the users' own items score ``-inf``."""
        users = np.asarray(users, dtype=np.int64)
        seeds = self._seeds(users, now_ms)
        x = seeds.multiply(self._inv_sqrt_deg[None, :]).tocsr()  # decay(w_seed) / sqrt(deg seed)
        co_users = (x @ self._binary_t).toarray()  # (batch, n_users) summed seed weights
        # a user is not their own co-user (the store's pattern cannot reuse the seed edge)
        co_users[np.arange(len(users)), users] = 0.0
        scores = np.asarray(self._weights_t @ co_users.T).T * self._inv_sqrt_deg[None, :]
        own = self.weights[users]
        rows = np.repeat(np.arange(len(users)), np.diff(own.indptr))
        scores[rows, own.indices] = -np.inf
        return scores.astype(np.float32)

    def score_user_items(self, item_indices: np.ndarray, weights: np.ndarray, last_ts: np.ndarray,
                         *, now_ms: int) -> np.ndarray:
        """Scores for a user given only their edges (a user not in the matrix, e.g. a new one)."""
        w = np.asarray(weights, dtype=np.float64)
        if self.half_life_days is not None:
            w = decay_weights(w, last_ts, now_ms=now_ms, half_life_days=self.half_life_days).astype(np.float64)
        x = np.zeros(self.weights.shape[1])
        np.add.at(x, np.asarray(item_indices, dtype=np.int64), w)
        x *= self._inv_sqrt_deg
        co_users = self._binary_t.T @ x
        scores = (self._weights_t @ co_users) * self._inv_sqrt_deg
        scores[np.asarray(item_indices, dtype=np.int64)] = -np.inf
        return scores.astype(np.float32)
