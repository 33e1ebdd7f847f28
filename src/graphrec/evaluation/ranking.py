"""Full-catalogue ranking of many users for offline evaluation: chunked score blocks, seen items masked,
the top k of each row.

Why a task object: every model, and every point of a baseline's tuning grid, ranks the same users of the
same split. What does not depend on the model (which users, their training items as the flat (row,
column) indices that mask a score block, the block boundaries) is computed once in
:class:`RankingTask` and reused; only ``model.score`` and the top-k run per model.

Why these blocks: a block holds about :data:`BLOCK_SCORES` float32 scores (16 MB: 390 users at 41k
items). A block of that size is reused from the allocator's heap block after block; a 1024-user block
(168 MB at 41k items) was mapped fresh each time, and its page faults cost more than its top-k on a
busy box. The top-k of a block is :func:`graphrec.evaluation.metrics.top_k`'s.

A model whose scores are the same for every user (:class:`SameForEveryUser`: MostPopular) is ranked
without any score block: one sort of the catalogue, then each user's first k items it has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from graphrec.evaluation.metrics import top_k_rows

BLOCK_SCORES = 4_000_000  # float32 scores per block (16 MB)


@runtime_checkable
class SameForEveryUser(Protocol):
    """A model whose score of an item does not depend on the user (MostPopular)."""

    def item_scores(self) -> np.ndarray:
        """``(n_items,)`` scores, higher is better."""
        ...


class Scorer(Protocol):
    """What the ranking needs of a model: each user's score for every item (``EvaluatedModel.score``'s
    contract: a new ``(len(users), n_items)`` array the ranking may overwrite)."""

    def score(self, users: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class _Block:
    """Users ``start:stop`` (positions in the task's ``users``) and their seen items as flat indices
    into the block's score rows."""

    start: int
    stop: int
    rows: np.ndarray
    cols: np.ndarray


class RankingTask:
    """The users to rank and the items each has seen (never ranked), in score blocks.

    Args:
        users: the users' rows in the model (``model.score`` receives slices of it), in result order.
        seen: ``(len(users), n_items)``: row ``i`` is user ``users[i]``'s training items (any stored
            entry counts, whatever its value).
        block_scores: scores per block (rows per block = ``block_scores // n_items``, at least 1).
    """

    def __init__(self, users: np.ndarray, seen: sp.csr_matrix, *, block_scores: int = BLOCK_SCORES) -> None:
        if seen.shape[0] != len(users):
            raise ValueError(f"seen has {seen.shape[0]} rows for {len(users)} users")
        self.users = np.asarray(users, dtype=np.int64)
        self.n_items = int(seen.shape[1])
        self.seen = seen.tocsr()
        rows_per_block = max(block_scores // max(self.n_items, 1), 1)
        blocks = []
        for start in range(0, len(self.users), rows_per_block):
            stop = min(start + rows_per_block, len(self.users))
            lo, hi = self.seen.indptr[start], self.seen.indptr[stop]
            rows = np.repeat(np.arange(stop - start), np.diff(self.seen.indptr[start : stop + 1]))
            blocks.append(_Block(start, stop, rows, self.seen.indices[lo:hi].astype(np.int64)))
        self._blocks = blocks

    @classmethod
    def of(cls, train_items: sp.csr_matrix, users: np.ndarray, *, block_scores: int = BLOCK_SCORES) -> RankingTask:
        """The task for ``users`` (rows of ``train_items``, the user x item training matrix)."""
        users = np.asarray(users, dtype=np.int64)
        return cls(users, train_items.tocsr()[users], block_scores=block_scores)

    def top_k(self, model: Scorer, k: int) -> np.ndarray:
        """``(len(users), min(k, n_items))`` item indices ranked best first, seen items excluded (they
        come last, only when a user has seen all but fewer than k items). Ties: the lower index first
        within the list; which of several tied items at the k-th place are kept is unspecified."""
        k = min(k, self.n_items)
        if isinstance(model, SameForEveryUser):
            return self._top_k_same(np.asarray(model.item_scores(), dtype=np.float32), k)
        out = np.zeros((len(self.users), k), dtype=np.int64)
        for block in self._blocks:
            scores = np.asarray(model.score(self.users[block.start : block.stop]), dtype=np.float32)
            if not scores.flags.writeable:
                scores = scores.copy()
            scores[block.rows, block.cols] = -np.inf
            out[block.start : block.stop] = top_k_rows(scores, k)
        return out

    def _top_k_same(self, scores: np.ndarray, k: int) -> np.ndarray:
        """One catalogue order for everyone; user u's list is its first k unseen items in that order.
        Only a seen item ranked below ``k + deg(u)`` can push one of them out, so each user needs a
        window of ``k +`` (such seen items) places of the order, not the catalogue."""
        n = self.n_items
        order = np.argsort(-scores, kind="stable")  # ties: the lower index first
        place = np.empty(n, dtype=np.int64)
        place[order] = np.arange(n)
        degree = np.diff(self.seen.indptr)
        rows = np.repeat(np.arange(len(self.users)), degree)
        places = place[self.seen.indices]
        near = places < k + degree[rows]
        rows, places = rows[near], places[near]
        width = min(n, k + int(np.bincount(rows, minlength=len(self.users)).max(initial=0)))
        inside = places < width
        taken = np.zeros((len(self.users), width), dtype=bool)
        taken[rows[inside], places[inside]] = True
        first = np.argsort(taken, axis=1, kind="stable")[:, :k]  # unseen places first, in order
        top: np.ndarray = order[first]
        return top
