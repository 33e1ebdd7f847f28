"""The normalised user-item adjacency used for full-graph message passing.

Nodes are numbered users first (``0..n_users-1``) then items (``n_users..``). The block matrix
``[[0, C], [C', 0]]`` holds one coefficient per edge, from the edge weight ``w``:

* ``sym``:  ``w_ui / sqrt(D_u D_i)`` (``D`` = weighted degree; symmetric, so ``C' = C^T``),
* ``mean``: ``w_ui / D_u`` for a user's row and ``w_ui / D_i`` for an item's row,
* ``sum``:  ``w_ui``.

The same coefficients are recomputed for a single new neighbourhood by ``user_coefficients`` /
``item_coefficients``, which is what makes inductive inference agree with the full forward pass.
"""

from __future__ import annotations

import copy
from typing import Literal

import numpy as np
import scipy.sparse as sp
import torch

from graphrec.model.sparse_ops import csr_pair, pair_to, spmm

Aggregation = Literal["sym", "mean", "sum"]


def _inv(x: np.ndarray | float, power: float = 1.0) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(arr)
    positive = arr > 0
    out[positive] = 1.0 / arr[positive] ** power
    return out


class BipartiteAdjacency:
    """Holds ``(A, A^T)`` as torch CSR and the degrees needed to normalise new neighbourhoods.

    Args:
        user_items: ``(n_users, n_items)`` CSR of (decayed) edge weights.
        aggr: normalisation (see module docstring).
    """

    def __init__(self, user_items: sp.csr_matrix, *, aggr: Aggregation = "sym") -> None:
        r = user_items.tocsr().astype(np.float64)
        self.aggr = aggr
        self.n_users: int = r.shape[0]
        self.n_items: int = r.shape[1]
        self.user_degree = np.asarray(r.sum(1)).ravel()
        self.item_degree = np.asarray(r.sum(0)).ravel()
        if aggr == "sym":
            c_user = sp.diags(_inv(self.user_degree, 0.5)) @ r @ sp.diags(_inv(self.item_degree, 0.5))
            c_item = c_user.T
        elif aggr == "mean":
            c_user = sp.diags(_inv(self.user_degree)) @ r
            c_item = sp.diags(_inv(self.item_degree)) @ r.T
        else:
            c_user, c_item = r, r.T
        block = (
            sp.bmat([[None, c_user], [c_item, None]], format="csr", dtype=np.float32)
            if r.nnz
            else sp.csr_matrix((self.n_users + self.n_items,) * 2, dtype=np.float32)
        )
        # bmat needs shapes on empty blocks; fix up when a side is empty
        self.block = sp.csr_matrix(block, shape=(self.n_users + self.n_items,) * 2)
        block = self.block
        self.pair = csr_pair(block, symmetric=(aggr != "mean"))

    def to(self, device: torch.device) -> BipartiteAdjacency:
        """This adjacency with its torch matrices on ``device`` (the numpy degrees stay on the host)."""
        if self.pair[0].device == device:
            return self
        moved = copy.copy(self)
        moved.pair = pair_to(self.pair, device)
        return moved

    @property
    def n_nodes(self) -> int:
        return self.n_users + self.n_items

    def propagate(self, x: torch.Tensor) -> torch.Tensor:
        """``A @ x`` for all nodes; ``x`` is ``(n_nodes, d)``."""
        return spmm(x, self.pair)

    def user_coefficients(self, item_indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Coefficients of a user's row given their (item, weight) list, as in the full matrix."""
        return neighbourhood_coefficients(self.aggr, weights, self.item_degree[np.asarray(item_indices)])

    def item_coefficients(self, user_indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Coefficients of an item's row given its (user, weight) list."""
        return neighbourhood_coefficients(self.aggr, weights, self.user_degree[np.asarray(user_indices)])


def neighbourhood_coefficients(aggr: Aggregation, weights: np.ndarray, neighbour_degree: np.ndarray) -> np.ndarray:
    """One node's row of the normalised adjacency from its edge weights and its neighbours' degrees.

    The node's own degree is the sum of ``weights`` (a new node brings its whole neighbourhood);
    neighbours keep their training degrees.
    """
    w = np.asarray(weights, dtype=np.float32).astype(np.float64)
    coefficients: np.ndarray = w
    if aggr == "sym":
        coefficients = w * _inv(w.sum(), 0.5) * _inv(np.asarray(neighbour_degree, dtype=np.float64), 0.5)
    elif aggr == "mean":
        coefficients = w * _inv(w.sum())
    return coefficients
