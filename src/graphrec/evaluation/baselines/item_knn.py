"""ItemKNN with cosine similarity: the classic neighbourhood baseline for implicit feedback.

``sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i| |U_j|) + shrink)``. Column pruning (the standard form, as in
Sarwar et al. and the reproducibility studies' ItemKNN-CF) keeps, for each candidate ``j``, its
``neighbours`` most similar items ``i``; a user's score for ``j`` is the sum of ``sim(i, j)`` over
the user's items among those neighbours. Row pruning (each seed item keeps its own most similar
items) is the variant graphrec used first; it scores lower on MovieLens and is kept for comparison.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from graphrec.snapshot import Snapshot


class ItemKNN:
    """Cosine item-item neighbourhood model over binary interactions.

    Args:
        neighbours: similarities kept per item (the rest are pruned to 0).
        shrink: added to the cosine denominator to damp similarities supported by few users.
        prune: ``column`` keeps each candidate's ``neighbours`` nearest items, ``row`` each seed's.
    """

    name = "ItemKNN"

    def __init__(
        self, *, neighbours: int = 100, shrink: float = 0.0, prune: Literal["column", "row"] = "column"
    ) -> None:
        if prune not in ("column", "row"):
            raise ValueError(f"prune must be 'column' or 'row', not {prune!r}")
        self.neighbours = neighbours
        self.shrink = shrink
        self.prune = prune
        self._user_items = sp.csr_matrix((0, 0))
        self._kept = sp.csr_matrix((0, 0))
        self._similarity = sp.csr_matrix((0, 0))

    def fit(self, train: Snapshot) -> None:
        x = train.matrix("ones").tocsc().astype(np.float32)
        xt = x.T.tocsr()
        norms = np.sqrt(np.asarray(x.multiply(x).sum(0)).ravel())
        n_items = train.n_items
        k = max(min(self.neighbours, n_items - 1), 0)
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for start in range(0, n_items, 2048):  # dense blocks of item rows keep memory bounded
            stop = min(start + 2048, n_items)
            co = np.asarray((xt[start:stop] @ x).todense())
            sim = co / (np.outer(norms[start:stop], norms) + self.shrink + 1e-12)
            sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
            if k == 0:
                continue
            top = np.argpartition(-sim, kth=k - 1, axis=1)[:, :k]
            v = np.take_along_axis(sim, top, axis=1)
            keep = v > 0
            rows.append(np.repeat(np.arange(start, stop), k)[keep.ravel()])
            cols.append(top[keep])
            vals.append(v[keep])
        kept = sp.csr_matrix(
            (
                np.concatenate(vals) if vals else np.zeros(0, np.float32),
                (
                    np.concatenate(rows) if rows else np.zeros(0, np.int64),
                    np.concatenate(cols) if cols else np.zeros(0, np.int64),
                ),
            ),
            shape=(n_items, n_items),
            dtype=np.float32,
        )
        self._set(kept, train.matrix("ones").tocsr())

    def _set(self, kept: sp.csr_matrix, user_items: sp.csr_matrix) -> None:
        # row i of ``kept`` holds i's nearest items; the cosine is symmetric, so the transpose holds, in
        # column j, j's nearest items: the column-pruned matrix
        self._kept = kept
        self._similarity = kept.T.tocsr() if self.prune == "column" else kept
        self._user_items = user_items

    def pruned(self, neighbours: int) -> ItemKNN:
        """This fitted model with only each item's ``neighbours`` most similar items kept (of the ones
        this fit kept; ties by index): a grid over ``neighbours`` costs one fit, not one per value (the
        co-occurrence product is the expensive part on a large catalogue)."""
        if neighbours > self.neighbours:
            raise ValueError(f"cannot keep {neighbours} neighbours of a fit that kept {self.neighbours}")
        kept = self._kept.tocoo()
        order = np.lexsort((kept.col, -kept.data, kept.row))
        rows = kept.row[order]
        keep = np.arange(len(order)) - np.searchsorted(rows, rows) < neighbours
        smaller = ItemKNN(neighbours=neighbours, shrink=self.shrink, prune=self.prune)
        smaller._set(
            sp.csr_matrix(
                (kept.data[order][keep], (rows[keep], kept.col[order][keep])), shape=kept.shape, dtype=np.float32
            ),
            self._user_items,
        )
        return smaller

    @property
    def similarity(self) -> sp.csr_matrix:
        """``(n_items, n_items)``: row = an item a user has, column = a candidate, value = the
        similarity that item lends the candidate (0 where pruned); a history's score is its row sum."""
        return self._similarity

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.score_history(self._user_items[users])

    def score_history(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Scores from items alone (``(n, n_items)``, non-zero = interacted): a user who was not in the
        training data, scored from a live history (the new-user protocol's ItemKNN-from-history)."""
        binary = user_items.tocsr().astype(np.float32)
        binary.data[:] = 1.0
        return np.asarray((binary @ self._similarity).todense(), dtype=np.float32)
