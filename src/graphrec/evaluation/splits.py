"""Split protocols: seeded random per-user holdout, temporal holdout, and given train/test files.

A split keeps the snapshot's id maps, so every model sees the same users and items, and the held-out
edges are a CSR matrix over the same indices. Users with a single interaction stay entirely in
training (they cannot be evaluated without leaving them cold).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from graphrec.snapshot import Snapshot


@dataclass(frozen=True)
class Split:
    """``train`` is what models fit on; ``test`` holds the held-out (user, item) pairs."""

    train: Snapshot
    test: sp.csr_matrix
    protocol: str


def _holdout_mask(snapshot: Snapshot, fraction: float, keys: np.ndarray) -> np.ndarray:
    """Mark, per user, the ``round(fraction * degree)`` edges with the largest ``keys`` as held out."""
    rows = snapshot.rows
    deg = np.diff(snapshot.indptr)
    order = np.lexsort((keys, rows))  # by user, then key ascending
    rank_from_end = np.empty(len(order), dtype=np.int64)
    # position within the user's block, counted from its end
    pos = np.arange(len(order)) - snapshot.indptr[rows[order]]
    rank_from_end[order] = deg[rows[order]] - 1 - pos
    n_out = np.where(deg >= 2, np.maximum(np.rint(fraction * deg), 1), 0).astype(np.int64)
    n_out = np.minimum(n_out, deg - 1).clip(min=0)
    return rank_from_end < n_out[rows]


def _to_split(snapshot: Snapshot, held_out: np.ndarray, protocol: str) -> Split:
    rows = snapshot.rows
    test = sp.csr_matrix(
        (np.ones(int(held_out.sum()), dtype=np.float32), (rows[held_out], snapshot.indices[held_out])),
        shape=(snapshot.n_users, snapshot.n_items),
    )
    return Split(train=snapshot.subset_edges(~held_out, split=protocol), test=test, protocol=protocol)


def random_holdout(snapshot: Snapshot, *, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Each user's edges are shuffled with ``seed`` and the last ``test_fraction`` held out."""
    rng = np.random.default_rng(seed)
    keys = rng.random(snapshot.n_edges)
    return _to_split(snapshot, _holdout_mask(snapshot, test_fraction, keys), f"random:{test_fraction}:{seed}")


def temporal_holdout(snapshot: Snapshot, *, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Each user's most recent ``test_fraction`` edges are held out (ties broken by ``seed``)."""
    rng = np.random.default_rng(seed)
    keys = snapshot.timestamps.astype(np.float64) + rng.random(snapshot.n_edges) * 1e-3
    return _to_split(snapshot, _holdout_mask(snapshot, test_fraction, keys), f"temporal:{test_fraction}")


def given_split(full: Snapshot, test_mask: np.ndarray) -> Split:
    """Use a split that came with the data (``test_mask`` marks ``full``'s held-out edges)."""
    return _to_split(full, np.asarray(test_mask, dtype=bool), "given")


Holdout = Callable[..., Split]


def holdout(protocol: Literal["random", "temporal"] | str) -> Holdout:
    """The holdout function of ``protocol``: validation splits are cut the same way as the test split
    they stand in for (tuning on random holdouts for a temporal test picks the wrong model)."""
    if protocol == "random":
        return random_holdout
    if protocol == "temporal":
        return temporal_holdout
    raise ValueError(f"unknown split protocol {protocol!r}: random | temporal")
