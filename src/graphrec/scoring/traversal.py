"""The capped co-interaction traversal: ONE definition, vectorised, shared by serving and evaluation.

For user ``u`` with seeds ``S``, fan-out ``F``, co-items ``K`` and half-life ``h``:

1. **Seeds**: ``u``'s ``S`` most recent edges with a positive weight (ties: item id). A seed weighs
   ``w(u, s) * 0.5 ** ((t_ref - last_ts) / h)``, ``t_ref`` being ``u``'s newest edge (never the
   wall clock, see :mod:`graphrec.clock`). A disliked item is never a seed.
2. **Co-users** of a seed ``s``: the ``F`` users with the largest positive ``w(v, s)`` (ties: user id).
   Only users who liked ``s`` lead anywhere. ``u`` may be one of them; its paths reach its own items,
   which are never candidates.
3. **Items** of a co-user ``v``: ``v``'s ``F`` edges with the largest ``|w(v, c)|`` (ties: item id),
   ``c`` other than ``s``. A co-user's dislike (negative ``w``) counts *against* ``c``.
4. ``S(s, c) = sum of w(v, c) / sqrt(deg(s) * deg(c))`` over those paths; ``deg`` counts an item's
   positive edges (dislikes are not popularity), and an item without any is never a candidate.
   Each seed keeps its ``K`` best ``c`` by ``S(s, c)`` (ties: item id).
5. ``score(c) = sum over seeds of seed weight * S(s, c)`` for items ``u`` has no edge to (a disliked
   item counts as seen); candidates are the items with a positive score, best first (ties: item id).
6. **Evidence** of ``c``: its (at most 3) seeds with the largest positive ``seed weight * S(s, c)``.

Where it lives: :class:`CoGraph` here (the API's in-memory index and the evaluation scorer both build
one), the store's Cypher (``graphrec.graph.cypher.statements``, both dialects) and the saved Browser
query ``graph/queries/03-why-recommended.cypher``; ``tests/scoring/traversal_spec.py`` writes the
same rules as plain Python, and the agreement test checks all of them against it with the caps
binding, on both stores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graphrec.clock import decay_weights

EVIDENCE = 3


def sorted_rows(
    rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n_rows: int, *, by_size: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR whose rows are ordered strongest first (by ``w``, or by ``|w|`` with ``by_size``), ties by
    column index (ids are sorted, so index order is id order): a cap then keeps exactly the rule's edges."""
    key = np.abs(weights) if by_size else weights
    order = np.lexsort((cols, -key, rows))
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, cols[order].astype(np.int32), weights[order].astype(np.float64)


def gather(indptr: np.ndarray, rows: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the first ``cap`` entries of each row, and which input row each came from."""
    starts = indptr[rows]
    lens = np.minimum(indptr[rows + 1] - starts, cap)
    total = int(lens.sum())
    owner = np.repeat(np.arange(len(rows)), lens)
    offsets = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    return starts[owner] + offsets, owner


def rank_sums(
    cand: np.ndarray, score: np.ndarray, excluded: np.ndarray, limit: int, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``limit`` candidates of summed per-path scores and their sums, best first (ties by
    index); ``excluded`` items and items whose sum is not positive (rule 5) are left out.

    Sums per item through a dense ``bincount`` when the paths are many compared with the catalogue
    (``n_items``), else through ``np.unique`` over the paths, so a request's cost does not grow with
    the catalogue's size. Item ids are sorted, so ordering ties by index orders them by id without
    comparing strings.
    """
    if len(cand) * 16 >= n_items:
        totals = np.bincount(cand, weights=score, minlength=n_items)
        touched = np.bincount(cand, minlength=n_items) > 0
        touched[excluded] = False
        idx = np.flatnonzero(touched)
        sums = totals[idx]
    else:
        idx, inverse = np.unique(cand, return_inverse=True)
        sums = np.bincount(inverse, weights=score)
        keep = ~np.isin(idx, excluded)
        idx, sums = idx[keep], sums[keep]
    positive = sums > 0  # rule 5: net negative evidence is no candidate
    idx, sums = idx[positive], sums[positive]
    n = min(limit, len(idx))
    if n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    part = np.argpartition(-sums, n - 1)[:n] if n < len(idx) else np.arange(n)
    top, top_sums = idx[part], sums[part]
    order = np.lexsort((top, -top_sums))
    return top[order], top_sums[order]


def strongest_seeds(seed_pos: np.ndarray, score: np.ndarray, seed_ids: np.ndarray) -> tuple[str, ...]:
    """Rule 6: of one candidate's paths (each path's seed position and score), the (at most
    :data:`EVIDENCE`) seeds whose paths sum to the most, strongest first, positive sums only."""
    per_seed = np.bincount(seed_pos, weights=score, minlength=len(seed_ids))
    best = np.argsort(-per_seed, kind="stable")[:EVIDENCE]
    return tuple(seed_ids[best][per_seed[best] > 0].tolist())


@dataclass(frozen=True)
class CoGraph:
    """The graph in the two orders the caps read it, and every seed's ``K`` best co-items ``S_K(s, .)``.

    Built once (the API refreshes it in the background; evaluation builds it per training split), so a
    request touches ``seeds x K`` entries instead of ``seeds x F x F`` paths."""

    n_users: int
    n_items: int
    u_indptr: np.ndarray  # user -> items, by |w| descending (rule 3)
    u_items: np.ndarray
    u_weights: np.ndarray
    i_indptr: np.ndarray  # item -> users who liked it, by w descending (rule 2)
    i_users: np.ndarray
    i_weights: np.ndarray
    item_degree: np.ndarray  # positive edges per item (rule 4)
    co_indptr: np.ndarray  # seed -> its K best (candidate, S) (rule 4)
    co_items: np.ndarray
    co_scores: np.ndarray
    fanout: int
    keep: int

    @classmethod
    def build(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        weights: np.ndarray,
        *,
        n_users: int,
        n_items: int,
        fanout: int,
        co_items: int,
        chunk: int = 512,
    ) -> CoGraph:
        """From edge columns (contiguous user and item indices, raw weights)."""
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        w = np.asarray(weights, dtype=np.float64)
        u_indptr, u_items, u_w = sorted_rows(users, items, w, n_users, by_size=True)
        liked = w > 0
        i_indptr, i_users, i_w = sorted_rows(items[liked], users[liked], w[liked], n_items, by_size=False)
        degree = np.diff(i_indptr).astype(np.float64)
        co = _co_lists(i_indptr, i_users, u_indptr, u_items, u_w, degree, fanout=fanout, keep=co_items, chunk=chunk)
        return cls(
            n_users=n_users,
            n_items=n_items,
            u_indptr=u_indptr,
            u_items=u_items,
            u_weights=u_w,
            i_indptr=i_indptr,
            i_users=i_users,
            i_weights=i_w,
            item_degree=degree,
            co_indptr=co[0],
            co_items=co[1],
            co_scores=co[2],
            fanout=fanout,
            keep=co_items,
        )

    def paths(self, seeds: np.ndarray, seed_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(candidate, seed position, seed weight * S(s, c))`` for every kept co-item of every seed."""
        pos, seed_pos = gather(self.co_indptr, np.asarray(seeds, dtype=np.int64), self.n_items)
        return (
            self.co_items[pos].astype(np.int64),
            seed_pos,
            np.asarray(seed_weights, dtype=np.float64)[seed_pos] * self.co_scores[pos],
        )

    def similarity(self) -> sp.csr_matrix:
        """``S_K`` as an ``(n_items, n_items)`` sparse matrix (row = seed), for batch scoring."""
        return sp.csr_matrix((self.co_scores, self.co_items, self.co_indptr), shape=(self.n_items, self.n_items))


def _co_lists(
    i_indptr: np.ndarray,
    i_users: np.ndarray,
    u_indptr: np.ndarray,
    u_items: np.ndarray,
    u_weights: np.ndarray,
    item_degree: np.ndarray,
    *,
    fanout: int,
    keep: int,
    chunk: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per item ``s``, its ``keep`` best ``(c, S(s, c))``, CSR-packed; vectorised per chunk of items."""
    n_items = len(item_degree)
    counts = np.zeros(n_items, dtype=np.int64)
    items_out: list[np.ndarray] = []
    scores_out: list[np.ndarray] = []
    for start in range(0, n_items, chunk):
        block = np.arange(start, min(n_items, start + chunk), dtype=np.int64)
        pos1, owner1 = gather(i_indptr, block, fanout)
        pos2, owner2 = gather(u_indptr, i_users[pos1].astype(np.int64), fanout)
        local = owner1[owner2]
        cand = u_items[pos2].astype(np.int64)
        weight = u_weights[pos2]
        other = (cand != block[local]) & (item_degree[cand] > 0)
        keys, inverse = np.unique(local[other] * n_items + cand[other], return_inverse=True)
        sums = np.bincount(inverse, weights=weight[other])
        src, dst = keys // n_items, keys % n_items
        score = sums / np.sqrt(item_degree[block[src]] * item_degree[dst])
        order = np.lexsort((dst, -score, src))
        src, dst, score = src[order], dst[order], score[order]
        rank = np.arange(len(src)) - np.searchsorted(src, src)
        top = rank < keep
        counts[block] = np.bincount(src[top], minlength=len(block))
        items_out.append(dst[top].astype(np.int32))
        scores_out.append(score[top])
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return (
        indptr,
        np.concatenate(items_out) if items_out else np.zeros(0, np.int32),
        np.concatenate(scores_out) if scores_out else np.zeros(0, np.float64),
    )


def _rule_one(
    rows: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    last_ts: np.ndarray,
    *,
    seed_items: int | None,
    half_life_days: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Rule 1 over edges of several users at once (``rows`` names each edge's user): the positions of
    the seeds, grouped by user, and their decayed weights (from each user's newest edge)."""
    w = np.asarray(weights, dtype=np.float64)
    ts = np.asarray(last_ts, dtype=np.int64)
    t_ref = np.zeros(int(rows.max(initial=-1)) + 1, dtype=np.int64)
    np.maximum.at(t_ref, rows, ts)
    liked = np.flatnonzero(w > 0)
    order = liked[np.lexsort((np.asarray(items)[liked], -ts[liked], rows[liked]))]
    if seed_items is not None:
        r = rows[order]
        order = order[np.arange(len(order)) - np.searchsorted(r, r) < seed_items]
    chosen = w[order]
    if half_life_days is not None:
        chosen = decay_weights(chosen, ts[order], now_ms=t_ref[rows[order]], half_life_days=half_life_days).astype(
            np.float64
        )
    return order, chosen


def select_seeds(
    items: np.ndarray, weights: np.ndarray, last_ts: np.ndarray, *, seed_items: int | None, half_life_days: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Rule 1 for one user's edges: ``(seed positions into the inputs, decayed seed weights)``.

    ``items`` must order like ids (indices into sorted ids, or the ids themselves) for the tie-break.

    The same rule as :func:`_rule_one` with one user, without its grouping steps (a per-request cost on
    the recommendations route); ``tests/scoring`` holds the two equal."""
    w = np.asarray(weights, dtype=np.float64)
    ts = np.asarray(last_ts, dtype=np.int64)
    liked = np.flatnonzero(w > 0)
    order = liked[np.lexsort((np.asarray(items)[liked], -ts[liked]))]
    if seed_items is not None:
        order = order[:seed_items]
    chosen = w[order]
    if half_life_days is not None:
        t_ref = max(int(ts.max(initial=0)), 0)
        chosen = decay_weights(chosen, ts[order], now_ms=t_ref, half_life_days=half_life_days).astype(np.float64)
    return order, chosen


class TraversalScorer:
    """Scores all items for a batch of users by the capped traversal (evaluation, blend tuning).

    Args:
        weights: ``(n_users, n_items)`` CSR of edge weights.
        last_ts: CSR with the same structure holding each edge's ``last_ts`` in epoch ms.
        half_life_days: half-life of the seed decay; ``None`` disables decay.
        seed_items: each user's ``seed_items`` most recent liked items are the seeds (``None`` = all).
        fanout, co_items: the caps ``F`` and ``K`` (the API's ``traversal_fanout`` / ``cograph_co_items``).
    """

    def __init__(
        self,
        weights: sp.csr_matrix,
        last_ts: sp.csr_matrix,
        *,
        half_life_days: float | None = None,
        seed_items: int | None = None,
        fanout: int = 50,
        co_items: int = 400,
    ) -> None:
        self.weights = weights.tocsr().astype(np.float64)
        self.weights.sort_indices()
        self.last_ts = last_ts.tocsr()
        self.last_ts.sort_indices()
        self.half_life_days = half_life_days
        self.seed_items = seed_items
        coo = self.weights.tocoo()
        self.cograph = CoGraph.build(
            coo.row,
            coo.col,
            coo.data,
            n_users=self.weights.shape[0],
            n_items=self.weights.shape[1],
            fanout=fanout,
            co_items=co_items,
        )
        self._similarity = self.cograph.similarity()

    def _seeds(self, w: sp.csr_matrix, ts: sp.csr_matrix) -> sp.csr_matrix:
        """Rule 1 for every row of ``w`` at once: a sparse matrix of decayed seed weights."""
        rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
        order, data = _rule_one(
            rows, w.indices, w.data, ts.data, seed_items=self.seed_items, half_life_days=self.half_life_days
        )
        return sp.csr_matrix((data, (rows[order], w.indices[order])), shape=w.shape)

    def score(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), n_items)`` scores; the users' own items and non-candidates score ``-inf``."""
        users = np.asarray(users, dtype=np.int64)
        w, ts = self.weights[users], self.last_ts[users]
        reached = (self._seeds(w, ts) @ self._similarity).tocsr()
        # only the reached items are written into a -inf block: no dense float64 block, no pass per step
        rows = np.repeat(np.arange(len(users)), np.diff(reached.indptr))
        positive = reached.data > 0
        scores = np.full((len(users), reached.shape[1]), -np.inf, dtype=np.float32)
        scores[rows[positive], reached.indices[positive]] = reached.data[positive]
        rows = np.repeat(np.arange(len(users)), np.diff(w.indptr))
        scores[rows, w.indices] = -np.inf
        return scores

    def score_user_items(self, item_indices: np.ndarray, weights: np.ndarray, last_ts: np.ndarray) -> np.ndarray:
        """Scores for a user given only their edges (a user not in the matrix, e.g. a new one)."""
        items = np.asarray(item_indices, dtype=np.int64)
        n_items = self.weights.shape[1]
        w = sp.csr_matrix(
            (np.asarray(weights, np.float64), (np.zeros(len(items), np.int64), items)), shape=(1, n_items)
        )
        ts = sp.csr_matrix((np.asarray(last_ts, np.int64), (np.zeros(len(items), np.int64), items)), shape=(1, n_items))
        scores = (self._seeds(w, ts) @ self._similarity).toarray()[0]
        scores = np.where(scores > 0, scores, -np.inf)
        scores[items] = -np.inf
        return scores.astype(np.float32)
