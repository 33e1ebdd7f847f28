"""Split protocols: seeded random per-user holdout, temporal holdout, given train/test files, and
whole users held out as new users (:func:`new_user_split`).

A split keeps the snapshot's id maps, so every model sees the same users and items, and the held-out
edges are a CSR matrix over the same indices. Users with a single interaction stay entirely in
training (they cannot be evaluated without leaving them cold).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from graphrec.graph.records import UserHistory
from graphrec.snapshot import Snapshot


@dataclass(frozen=True)
class Split:
    """``train`` is what models fit on; ``test`` holds the held-out (user, item) pairs."""

    train: Snapshot
    test: sp.csr_matrix
    protocol: str

    @property
    def test_users(self) -> np.ndarray:
        """Rows of the users with held-out edges, in index order: the users every metric averages
        over and every per-user array lists."""
        users: np.ndarray = np.flatnonzero(np.diff(self.test.indptr) > 0)
        return users


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
    held_out: np.ndarray = rank_from_end < n_out[rows]
    return held_out


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


@dataclass(frozen=True)
class NewUserSplit:
    """Whole users held out: ``train`` holds the other users' edges only, and every held-out user's
    edges wait in time order, to be fed ``n`` at a time as a new user's live history.

    ``train`` keeps the full item map (items only held-out users touched stay, without edges) but
    lists only the training users, so a held-out user is unknown to anything fitted on it, as a user
    who arrives after training is. Held-out user ``r``'s edges are
    ``items/weights/timestamps[indptr[r]:indptr[r + 1]]``, oldest first; weights are the snapshot's.
    """

    train: Snapshot
    user_ids: np.ndarray
    indptr: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    timestamps: np.ndarray
    protocol: str

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def history(self, row: int, n: int) -> UserHistory:
        """Held-out user ``row``'s first ``n`` edges as the store would hand them to serving."""
        lo = self.indptr[row]
        hi = min(lo + n, self.indptr[row + 1])
        return UserHistory(
            self.train.item_ids[self.items[lo:hi]].tolist(),
            self.weights[lo:hi].astype(np.float64),
            self.timestamps[lo:hi].astype(np.int64),
        )

    def _part(self, n: int, *, fed: bool) -> sp.csr_matrix:
        rank = np.arange(len(self.items)) - np.repeat(self.indptr[:-1], np.diff(self.indptr))
        keep = rank < n if fed else rank >= n
        rows = np.repeat(np.arange(self.n_users), np.diff(self.indptr))[keep]
        return sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.float32), (rows, self.items[keep])),
            shape=(self.n_users, self.train.n_items),
        )

    def fed(self, n: int) -> sp.csr_matrix:
        """``(held-out users, items)``: each user's first ``n`` items (what a model may see)."""
        return self._part(n, fed=True)

    def rest(self, n: int) -> sp.csr_matrix:
        """``(held-out users, items)``: each user's items after the first ``n`` (what is scored)."""
        return self._part(n, fed=False)


def new_user_split(
    full: Snapshot, *, fraction: float, lengths: Sequence[int], min_rest: int, seed: int, max_users: int | None = None
) -> NewUserSplit:
    """Hold out ``fraction`` (at most ``max_users``) of the users with at least ``max(lengths) +
    min_rest`` edges, chosen with ``seed``, so every history length is scored on the same users, each
    with at least ``min_rest`` items left to find. A user's edges are ordered by ``last_ts``, ties
    broken by a ``seed``-ed draw (one second can hold several MovieLens ratings)."""
    deg = np.diff(full.indptr)
    eligible = np.flatnonzero(deg >= max(lengths) + min_rest)
    rng = np.random.default_rng(seed)
    size = min(int(round(fraction * len(eligible))), max_users if max_users is not None else len(eligible))
    if size == 0:
        raise ValueError(
            f"no user to hold out: {len(eligible)} users have the {max(lengths) + min_rest} "
            f"interactions a history of {max(lengths)} plus {min_rest} to score needs"
        )
    held = np.sort(rng.choice(eligible, size=size, replace=False))
    is_held = np.zeros(full.n_users, dtype=bool)
    is_held[held] = True
    rows = full.rows
    keep = ~is_held[rows]
    train_users = np.flatnonzero(~is_held)
    train = Snapshot.from_coo(
        user_ids=full.user_ids[train_users],
        item_ids=full.item_ids,
        rows=np.searchsorted(train_users, rows[keep]),
        cols=full.indices[keep],
        weights=full.weights[keep],
        timestamps=full.timestamps[keep],
        item_categories=full.item_category_matrix(),
        category_names=full.category_names,
        item_titles=full.item_titles,
        manifest={
            **{k: v for k, v in full.manifest.items() if k != "content_hash"},
            "split": "new-users",
            "parent_hash": full.manifest.get("content_hash"),
        },
    )
    out = is_held[rows]
    tie = rng.random(int(out.sum()))
    order = np.lexsort((tie, full.timestamps[out], rows[out]))
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(deg[held], out=indptr[1:])
    return NewUserSplit(
        train=train,
        user_ids=full.user_ids[held],
        indptr=indptr,
        items=full.indices[out][order],
        weights=full.weights[out][order],
        timestamps=full.timestamps[out][order],
        protocol=f"new-users:{fraction}:{seed}",
    )


@dataclass(frozen=True)
class ColdItemSplit:
    """Whole items held out, all their edges with them (``graphrec evaluate --protocol cold-items``).

    ``train`` is the snapshot an export would give had the held-out items never been touched: only the
    other items (renumbered), only users with an edge to one of them, the items' titles and categories
    kept. The held-out items are described by ``cold_ids``, ``cold_titles`` and ``cold_categories`` (what
    a catalogue upsert would send); ``test`` holds, per training user (rows as in ``train``), the
    held-out items they interacted with (columns as in ``cold_ids``). Users whose every edge was to a
    held-out item have no profile to rank from and are left out (``dropped_users`` counts them)."""

    train: Snapshot
    cold_ids: np.ndarray
    cold_titles: np.ndarray
    cold_categories: list[tuple[str, ...]]
    test: sp.csr_matrix
    dropped_users: int
    protocol: str

    @property
    def test_users(self) -> np.ndarray:
        """Rows of the training users who interacted with a held-out item, in index order."""
        users: np.ndarray = np.flatnonzero(np.diff(self.test.indptr) > 0)
        return users


def cold_item_split(full: Snapshot, *, fraction: float = 0.2, seed: int = 0) -> ColdItemSplit:
    """Hold out a seeded ``fraction`` of the items, drawn uniformly, with every edge they have."""
    rng = np.random.default_rng(seed)
    size = int(round(fraction * full.n_items))
    if size < 1 or size >= full.n_items:
        raise ValueError(f"holding out {fraction:g} of {full.n_items} items leaves no cold or no warm item")
    is_cold = np.zeros(full.n_items, dtype=bool)
    is_cold[rng.choice(full.n_items, size=size, replace=False)] = True
    cold, warm = np.flatnonzero(is_cold), np.flatnonzero(~is_cold)
    rows = full.rows
    keep = ~is_cold[full.indices]
    users = np.unique(rows[keep])
    categories = full.item_category_matrix()
    protocol = f"cold-items:{fraction}:{seed}"
    train = Snapshot.from_coo(
        user_ids=full.user_ids[users],
        item_ids=full.item_ids[warm],
        rows=np.searchsorted(users, rows[keep]),
        cols=np.searchsorted(warm, full.indices[keep]),
        weights=full.weights[keep],
        timestamps=full.timestamps[keep],
        item_categories=categories[warm],
        category_names=full.category_names,
        item_titles=full.titles[warm],
        manifest={
            **{k: v for k, v in full.manifest.items() if k != "content_hash"},
            "split": protocol,
            "parent_hash": full.manifest.get("content_hash"),
        },
    )
    held = ~keep & np.isin(rows, users)
    test = sp.csr_matrix(
        (
            np.ones(int(held.sum()), dtype=np.float32),
            (np.searchsorted(users, rows[held]), np.searchsorted(cold, full.indices[held])),
        ),
        shape=(len(users), len(cold)),
    )
    cold_cats = categories[cold].tocsr()
    names = full.category_names
    return ColdItemSplit(
        train=train,
        cold_ids=full.item_ids[cold],
        cold_titles=full.titles[cold],
        cold_categories=[tuple(names[c].tolist()) for c in np.split(cold_cats.indices, cold_cats.indptr[1:-1])],
        test=test,
        dropped_users=int(full.n_users - len(users)),
        protocol=protocol,
    )
