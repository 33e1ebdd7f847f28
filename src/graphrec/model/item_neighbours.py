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
items). ``neighbours`` and ``shrink`` are tuned with the new-user weights
(:class:`graphrec.model.blend_tuning.NewUserBlend`), and how much the source counts is ``gamma``
of :class:`graphrec.model.blend_tuning.HistoryWeights`: known users get ``gamma = 0``.

Files: ``item_neighbours.npz`` in the version directory (CSR arrays, no pickles) and its parameters
in ``blend.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import compress
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from graphrec.evaluation.baselines import ItemKNN
from graphrec.scoring.traversal import EVIDENCE
from graphrec.snapshot import Snapshot

NEIGHBOURS_FILE = "item_neighbours.npz"


@dataclass(frozen=True, slots=True)
class NeighbourCandidates:
    """One request's neighbour candidates, best first, and the seeds that lent each its score."""

    ids: np.ndarray  # str
    scores: np.ndarray  # float64
    _rows: sp.csr_matrix  # the seeds' rows (seed x item)
    _seeds: np.ndarray  # str: seed ids in row order
    _index_of: Callable[[str], int | None]  # the version's item index

    def __len__(self) -> int:
        return len(self.ids)

    def evidence(self, item_id: str) -> tuple[str, ...]:
        """The (at most 3) seeds with the largest similarity to ``item_id``, strongest first."""
        j = self._index_of(item_id)
        if j is None:
            return ()
        column = np.asarray(self._rows[:, j].todense()).ravel()
        best = np.argsort(-column, kind="stable")[:EVIDENCE]
        return tuple(compress(self._seeds[best].tolist(), (column[best] > 0).tolist()))


@dataclass(frozen=True)
class ItemNeighbours:
    """The pruned similarity table of one version (see module docstring), in the version's item order."""

    item_ids: np.ndarray  # str, the version's items
    similarity: sp.csr_matrix  # row = seed item, column = candidate
    neighbours: int
    shrink: float

    @classmethod
    def fit(cls, snapshot: Snapshot, *, neighbours: int, shrink: float) -> ItemNeighbours:
        """The table of ``snapshot``'s positive edges (one ItemKNN fit)."""
        liked = snapshot.subset_edges(snapshot.weights > 0)
        model = ItemKNN(neighbours=neighbours, shrink=shrink)
        model.fit(liked)
        return cls(item_ids=snapshot.item_ids.astype(str), similarity=model.similarity.tocsr(),
                   neighbours=neighbours, shrink=shrink)

    @property
    def entries(self) -> int:
        return int(self.similarity.nnz)

    def candidates(self, seed_idx: np.ndarray, index_of: Callable[[str], int | None], *, limit: int,
                   exclude: np.ndarray) -> NeighbourCandidates:
        """The ``limit`` items with the largest summed similarity to the seeds (item indices), ``exclude``
        (item indices) and the seeds left out; ties by item index. ``index_of`` maps an id to its index."""
        seed_idx = np.asarray(seed_idx, dtype=np.int64)
        seeds = self.item_ids[seed_idx]
        rows = self.similarity[seed_idx]
        if not len(seed_idx) or rows.nnz == 0:
            return NeighbourCandidates(np.zeros(0, dtype=str), np.zeros(0), rows, seeds, index_of)
        cand, inverse = np.unique(rows.indices, return_inverse=True)
        sums = np.bincount(inverse, weights=rows.data.astype(np.float64))
        keep = (sums > 0) & ~np.isin(cand, np.concatenate([exclude, seed_idx]))
        cand, sums = cand[keep], sums[keep]
        n = min(limit, len(cand))
        if n < len(cand):
            part = np.argpartition(-sums, n - 1)[:n]
            cand, sums = cand[part], sums[part]
        order = np.lexsort((cand, -sums))
        return NeighbourCandidates(self.item_ids[cand[order]], sums[order], rows, seeds, index_of)

    def save(self, directory: Path) -> Path:
        path = directory / NEIGHBOURS_FILE
        m = self.similarity
        with path.open("wb") as fh:
            np.savez(fh, data=m.data.astype(np.float32), indices=m.indices.astype(np.int32),
                     indptr=m.indptr.astype(np.int64), item_ids=self.item_ids.astype(str),
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
            similarity = sp.csr_matrix((raw["data"], raw["indices"], raw["indptr"]), shape=(n, n))
            params = json.loads(str(raw["params"]))
        return cls(item_ids=item_ids, similarity=similarity, neighbours=int(params["neighbours"]),
                   shrink=float(params["shrink"]))
