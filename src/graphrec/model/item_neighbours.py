"""Item neighbours: every item's strongest co-interaction neighbours over *all* users, kept with a
model version, the third candidate source of a thin history.

Why a third source: the capped traversal (:mod:`graphrec.scoring.traversal`) samples each seed's
``fanout`` strongest likers, which is what keeps a request within a few milliseconds, but from one or
three seeds that sample is most of what the graph side knows, and it is noisy. The new-user protocol
(``graphrec evaluate --protocol new-users``) measured the uncapped count doing better: ItemKNN's
cosine over every user's positive edges beat the whole blend at every history length on MovieLens.
So the version keeps that table, precomputed at train time, where a request reads ``seeds x
neighbours`` entries like the traversal reads ``seeds x co_items``.

Definition, on positive edges only, so a dislike is no co-interaction: with ``c(s, j) = |U+_s ∩ U+_j|``
the users who liked both and ``d(i) = |U+_i|`` an item's likers, a seed ``s`` lends a candidate ``j``

    sim(s, j) = (c(s, j) / (d(s)^a * d(j)^(1 - a) + shrink))^q          (:class:`Similarity`)

``a = 0.5, q = 1`` is :class:`graphrec.evaluation.baselines.ItemKNN`'s cosine. ``a`` above 0.5 moves
towards ``P(j | s)``, the share of the seed's likers who also liked ``j`` (more weight to popular
candidates); ``q`` above 1 lets a few strong pairs outweigh many weak ones (Aiolli's asymmetric cosine
with locality, RecSys 2013). Each candidate ``j`` keeps its ``neighbours`` most similar items by the
table's cosine (column pruning); a history's score for ``j`` is the sum of ``sim(s, j)`` over its seeds
``s`` (the traversal's seeds: the most recent liked items). The table's ``neighbours`` and ``shrink``
are tuned with the new-user weights (:class:`graphrec.model.blend_tuning.NewUserBlend`); how much the
source counts (``gamma``) and the similarity a request applies are tuned per history length
(:class:`graphrec.model.blend_tuning.HistoryWeights`). Known users get ``gamma = 0``.

Why not the cosine alone: on MovieLens new users the cosine, tuned per n, was what the whole blend
could only tie; ``a`` and ``q`` tuned on the same validation users are what beat it (README, "New
users").

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
class Similarity:
    """How a request turns the table's counts into similarities (the formula in the module docstring).
    The default is ItemKNN's cosine with ``shrink``."""

    shrink: float
    asymmetry: float = 0.5
    locality: float = 1.0

    def __post_init__(self) -> None:
        if not (self.shrink >= 0 and 0.0 <= self.asymmetry <= 1.0 and self.locality > 0):
            raise ValueError(f"similarity needs shrink >= 0, 0 <= asymmetry <= 1 and locality > 0, not {self}")

    @property
    def is_cosine(self) -> bool:
        return self.asymmetry == 0.5 and self.locality == 1.0

    def apply(self, counts: np.ndarray, seed_degree: np.ndarray, candidate_degree: np.ndarray) -> np.ndarray:
        """Entry-wise similarities (float64) of co-occurrence ``counts`` and the two items' liked degrees."""
        if self.asymmetry == 0.5:  # the cosine's own expression, so a = 0.5 equals ItemKNN to the last bit
            norm = np.sqrt(seed_degree * candidate_degree)
        else:
            norm = seed_degree**self.asymmetry * candidate_degree ** (1.0 - self.asymmetry)
        sims: np.ndarray = counts / (norm + self.shrink + 1e-12)
        if self.locality != 1.0:
            sims = sims**self.locality
        return sims


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
    request can apply any :class:`Similarity`: the tuned one differs by history length (on MovieLens,
    close to ``P(j | s)`` from one item, nearer the cosine from ten). Which entries are kept is decided
    once, by the cosine with the table's own ``shrink``."""

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
        return cls(
            item_ids=snapshot.item_ids.astype(str),
            counts=sp.csr_matrix((counts.astype(np.float32), sim.indices, sim.indptr), shape=sim.shape),
            degree=degree,
            neighbours=neighbours,
            shrink=shrink,
        )

    @property
    def entries(self) -> int:
        return int(self.counts.nnz)

    @property
    def cosine(self) -> Similarity:
        """The table's own similarity: the cosine with the shrinkage its entries were pruned by."""
        return Similarity(self.shrink)

    def _entries(
        self, seed_idx: np.ndarray, similarity: Similarity | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The seeds' entries as ``(owner position, candidate index, similarity)``: read straight from the
        CSR arrays (a request's hot path; scipy's row indexing costs more than the sums)."""
        m = self.counts
        pos, owner = gather(m.indptr, seed_idx, max(int(m.nnz), 1))  # no cap: a row is never longer
        cols = m.indices[pos].astype(np.int64)
        sims = (similarity or self.cosine).apply(
            m.data[pos].astype(np.float64), self.degree[seed_idx[owner]], self.degree[cols]
        )
        return owner, cols, sims

    def similarity(self, seed_idx: np.ndarray, similarity: Similarity | None = None) -> sp.csr_matrix:
        """The seeds' rows under ``similarity`` (``None``: the table's own cosine)."""
        seed_idx = np.asarray(seed_idx, dtype=np.int64)
        owner, cols, sims = self._entries(seed_idx, similarity)
        return sp.csr_matrix((sims, (owner, cols)), shape=(len(seed_idx), self.counts.shape[1]))

    def score_history(self, fed: sp.csr_matrix, similarity: Similarity | None = None) -> np.ndarray:
        """``(users, items)`` summed similarities of each row's fed items (non-zero = a seed): what
        :meth:`candidates` ranks, for many users at once (the tuner scores every similarity this way)."""
        fed = fed.tocsr()
        seeds = np.unique(fed.indices)
        binary = fed[:, seeds].astype(np.float64)
        binary.data[:] = 1.0
        return np.asarray((binary @ self.similarity(seeds, similarity)).todense())

    def candidates(
        self,
        seed_idx: np.ndarray,
        index_of: Callable[[str], int | None],
        *,
        limit: int,
        exclude: np.ndarray,
        similarity: Similarity | None = None,
    ) -> NeighbourCandidates:
        """The ``limit`` items with the largest summed similarity to the seeds (item indices), ``exclude``
        (item indices) and the seeds left out; ties by item index. ``index_of`` maps an id to its index;
        ``similarity``: ``None`` is the table's own cosine."""
        seed_idx = np.asarray(seed_idx, dtype=np.int64)
        owner, cols, sims = self._entries(seed_idx, similarity)
        seeds = self.item_ids[seed_idx]
        # the traversal's ranking of summed paths (rule 5), the seeds counting as seen
        cand, sums = rank_sums(cols, sims, np.concatenate([exclude, seed_idx]), limit, len(self.item_ids))
        return NeighbourCandidates(self.item_ids[cand], sums, seeds, owner, cols, sims, index_of)

    def save(self, directory: Path) -> Path:
        path = directory / NEIGHBOURS_FILE
        m = self.counts
        with path.open("wb") as fh:
            np.savez(
                fh,
                counts=m.data.astype(np.float32),
                indices=m.indices.astype(np.int32),
                indptr=m.indptr.astype(np.int64),
                degree=self.degree,
                item_ids=self.item_ids.astype(str),
                params=np.array(json.dumps({"neighbours": self.neighbours, "shrink": self.shrink})),
            )
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
        return cls(
            item_ids=item_ids,
            counts=counts,
            degree=degree,
            neighbours=int(params["neighbours"]),
            shrink=float(params["shrink"]),
        )
