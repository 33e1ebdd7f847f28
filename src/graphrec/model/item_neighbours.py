"""Item neighbours: every item's strongest co-interaction neighbours over *all* users, kept with a
model version, the third candidate source of a thin history.

Why a third source: the capped traversal (:mod:`graphrec.scoring.traversal`) samples each seed's
``fanout`` strongest likers, which is what keeps a request within a few milliseconds, but from one or
three seeds that sample is most of what the graph side knows, and it is noisy. The new-user protocol
(``graphrec evaluate --protocol new-users``) measured the uncapped count doing better: ItemKNN's
cosine over every user's positive edges beat the whole blend at every history length on MovieLens.
So the version keeps that table, precomputed at train time, where a request reads ``seeds x
neighbours`` entries like the traversal reads ``seeds x co_items``.

Definition (the same as :class:`graphrec.evaluation.baselines.ItemKNN`, on positive edges only, so a
dislike is no co-interaction): ``sim(i, j) = |U+_i ∩ U+_j| / (sqrt(|U+_i| |U+_j|) + shrink)``; each
candidate ``j`` keeps its ``neighbours`` most similar items (column pruning); a history's score for
``j`` is the sum of ``sim(s, j)`` over its seeds ``s`` (the traversal's seeds: the most recent liked
items). The table's ``neighbours`` and ``shrink`` are tuned with the new-user weights
(:class:`graphrec.model.blend_tuning.NewUserBlend`); how much the source counts (``gamma``) and
the shrinkage a request applies (``shrink``) are tuned per history length
(:class:`graphrec.model.blend_tuning.HistoryWeights`). Known users get ``gamma = 0``.

Files: ``item_neighbours.npz`` in the version directory (CSR arrays, no pickles) and its parameters
in ``blend.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from graphrec.evaluation.baselines import ItemKNN
from graphrec.scoring.traversal import gather, rank_sums, strongest_seeds
from graphrec.snapshot import Snapshot

NEIGHBOURS_FILE = "item_neighbours.npz"


@dataclass(frozen=True, slots=True)
class NeighbourCandidates:
    """One request's neighbour candidates, best first, and the entries they were summed from (to
    name the seeds that lent each its score)."""

    ids: np.ndarray  # str
    scores: np.ndarray  # float64
    _seeds: np.ndarray  # str: the seeds, in the order ``_owner`` counts them
    _owner: np.ndarray  # per entry: its seed's position
    _cols: np.ndarray  # per entry: the candidate's index
    _sims: np.ndarray  # per entry: the similarity
    _index_of: Callable[[str], int | None]  # the version's item index

    def __len__(self) -> int:
        return len(self.ids)

    def evidence(self, item_id: str) -> tuple[str, ...]:
        """The (at most 3) seeds with the largest similarity to ``item_id``, strongest first."""
        j = self._index_of(item_id)
        if j is None:
            return ()
        on = self._cols == j
        return strongest_seeds(self._owner[on], self._sims[on], self._seeds)


@dataclass(frozen=True)
class ItemNeighbours:
    """The pruned co-interaction table of one version (see module docstring), in the version's item order.

    It keeps raw co-occurrence counts and each item's liked degree rather than similarities, so a
    request can apply any ``shrink``: the tuned one differs by history length (on MovieLens, raw
    counts from one item, a cosine shrunk by 100 from ten). Which entries are kept is decided once,
    by the cosine with the table's own ``shrink``."""

    item_ids: np.ndarray  # str, the version's items
    counts: sp.csr_matrix  # row = seed item, column = candidate: users who liked both (kept entries only)
    degree: np.ndarray  # float64: users who liked each item
    neighbours: int
    shrink: float

    @classmethod
    def fit(cls, snapshot: Snapshot, *, neighbours: int, shrink: float) -> ItemNeighbours:
        """The table of ``snapshot``'s positive edges (one ItemKNN fit)."""
        liked = snapshot.subset_edges(snapshot.weights > 0)
        model = ItemKNN(neighbours=neighbours, shrink=shrink)
        model.fit(liked)
        degree = np.bincount(liked.indices, minlength=liked.n_items).astype(np.float64)
        sim = model.similarity.tocsr()
        rows = np.repeat(np.arange(sim.shape[0]), np.diff(sim.indptr))
        # the counts are integers: the cosine's float32 rounding is far below 0.5 of one
        counts = np.rint(sim.data * (np.sqrt(degree[rows] * degree[sim.indices]) + shrink + 1e-12))
        return cls(item_ids=snapshot.item_ids.astype(str),
                   counts=sp.csr_matrix((counts.astype(np.float32), sim.indices, sim.indptr), shape=sim.shape),
                   degree=degree, neighbours=neighbours, shrink=shrink)

    @property
    def entries(self) -> int:
        return int(self.counts.nnz)

    def _entries(self, seed_idx: np.ndarray, shrink: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The seeds' entries as ``(owner position, candidate index, cosine with shrink)``: read straight
        from the CSR arrays (a request's hot path; scipy's row indexing costs more than the sums)."""
        m = self.counts
        pos, owner = gather(m.indptr, seed_idx, max(int(m.nnz), 1))  # no cap: a row is never longer
        cols = m.indices[pos].astype(np.int64)
        s = self.shrink if shrink is None else shrink
        sims = m.data[pos] / (np.sqrt(self.degree[seed_idx[owner]] * self.degree[cols]) + s + 1e-12)
        return owner, cols, sims

    def similarity(self, seed_idx: np.ndarray, shrink: float | None = None) -> sp.csr_matrix:
        """The seeds' rows as cosines with ``shrink`` (``None``: the table's own), ItemKNN's formula."""
        seed_idx = np.asarray(seed_idx, dtype=np.int64)
        owner, cols, sims = self._entries(seed_idx, shrink)
        return sp.csr_matrix((sims, (owner, cols)), shape=(len(seed_idx), self.counts.shape[1]))

    def candidates(self, seed_idx: np.ndarray, index_of: Callable[[str], int | None], *, limit: int,
                   exclude: np.ndarray, shrink: float | None = None) -> NeighbourCandidates:
        """The ``limit`` items with the largest summed similarity to the seeds (item indices), ``exclude``
        (item indices) and the seeds left out; ties by item index. ``index_of`` maps an id to its index;
        ``shrink``: the cosine's (``None``: the table's own)."""
        seed_idx = np.asarray(seed_idx, dtype=np.int64)
        owner, cols, sims = self._entries(seed_idx, shrink)
        seeds = self.item_ids[seed_idx]
        # the traversal's ranking of summed paths (rule 5), the seeds counting as seen
        cand, sums = rank_sums(cols, sims, np.concatenate([exclude, seed_idx]), limit, len(self.item_ids))
        return NeighbourCandidates(self.item_ids[cand], sums, seeds, owner, cols, sims, index_of)

    def save(self, directory: Path) -> Path:
        path = directory / NEIGHBOURS_FILE
        m = self.counts
        with path.open("wb") as fh:
            np.savez(fh, counts=m.data.astype(np.float32), indices=m.indices.astype(np.int32),
                     indptr=m.indptr.astype(np.int64), degree=self.degree, item_ids=self.item_ids.astype(str),
                     params=np.array(json.dumps({"neighbours": self.neighbours, "shrink": self.shrink})))
        return path

    @classmethod
    def load(cls, directory: Path) -> ItemNeighbours | None:
        """The version's table, or ``None`` for a version trained without one."""
        path = directory / NEIGHBOURS_FILE
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as raw:
            item_ids = raw["item_ids"].astype(str)
            n = len(item_ids)
            counts = sp.csr_matrix((raw["counts"], raw["indices"], raw["indptr"]), shape=(n, n))
            degree = raw["degree"].astype(np.float64)
            params = json.loads(str(raw["params"]))
        return cls(item_ids=item_ids, counts=counts, degree=degree, neighbours=int(params["neighbours"]),
                   shrink=float(params["shrink"]))
