"""The chunked full-catalogue ranking against plain references: the same lists as sorting every user's
whole row, seen items never listed, and the sort-once path of a same-for-every-user model equal to the
per-user path."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from graphrec.evaluation.baselines import MostPopular
from graphrec.evaluation.metrics import hit_matrix, top_k, top_k_rows
from graphrec.evaluation.ranking import RankingTask, SameForEveryUser
from graphrec.snapshot import Snapshot


class _Fixed:
    """Scores from a fixed user x item table (a fresh copy per call, as the protocol asks)."""

    name = "fixed"

    def __init__(self, table: np.ndarray) -> None:
        self.table = table

    def fit(self, train: Snapshot) -> None:
        return None

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.table[users].copy()


def _reference(scores: np.ndarray, seen: sp.csr_matrix, k: int) -> np.ndarray:
    """Every row sorted whole: unseen items by score descending, ties by the lower index."""
    masked = scores.astype(np.float64)
    masked[seen.toarray() > 0] = -np.inf
    out = [np.lexsort((np.arange(row.size), -row))[:k] for row in masked]
    return np.array(out, dtype=np.int64)


def _random_case(seed: int, n_users: int = 60, n_items: int = 37) -> tuple[np.ndarray, sp.csr_matrix]:
    rng = np.random.default_rng(seed)
    scores = rng.permutation(n_users * n_items).reshape(n_users, n_items).astype(np.float32)  # distinct
    seen = sp.random(n_users, n_items, density=0.3, random_state=seed, format="csr", dtype=np.float32)
    seen.data[:] = 1.0
    return scores, seen


@pytest.mark.parametrize("block_scores", [1, 37 * 7, 10_000])
def test_chunked_ranking_equals_sorting_every_row(block_scores: int) -> None:
    scores, seen = _random_case(0)
    users = np.array([5, 0, 59, 17, 3, 42, 8])  # any order: the result follows it
    task = RankingTask.of(seen, users, block_scores=block_scores)
    got = task.top_k(_Fixed(scores), 10)
    assert np.array_equal(got, _reference(scores[users], seen[users], 10))
    assert not np.take_along_axis(seen[users].toarray() > 0, got, axis=1).any()  # nothing seen listed


def test_a_user_who_saw_almost_everything_gets_the_rest_first() -> None:
    scores = np.array([[4.0, 3.0, 2.0, 1.0, 0.5]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[1, 1, 0, 1, 1]], dtype=np.float32))
    got = RankingTask.of(seen, np.array([0])).top_k(_Fixed(scores), 3)
    assert got[0, 0] == 2 and len(set(got[0].tolist())) == 3  # the one unseen item, then seen ones


def test_same_for_every_user_path_equals_the_per_user_path_with_ties() -> None:
    rng = np.random.default_rng(1)
    n_users, n_items = 80, 50
    seen = sp.random(n_users, n_items, density=0.2, random_state=1, format="csr", dtype=np.float32)
    seen.data[:] = 1.0
    seen = sp.lil_matrix(seen)
    seen[3, :45] = 1.0  # a heavy user: fewer unseen items than k would leave
    seen[4, :] = 1.0  # a user who saw everything
    seen = sp.csr_matrix(seen)
    popularity = rng.integers(0, 6, n_items).astype(np.float32)  # many ties
    model = MostPopular()
    model._popularity = popularity
    assert isinstance(model, SameForEveryUser)
    task = RankingTask.of(seen, np.arange(n_users))
    got = task.top_k(model, 8)
    expected = _reference(np.tile(popularity, (n_users, 1)), seen, 8)
    heavy = np.array([3, 4])
    assert np.array_equal(np.delete(got, heavy, axis=0), np.delete(expected, heavy, axis=0))
    unseen = n_items - seen[3].nnz
    assert 0 < unseen < 8
    assert got[3, :unseen].tolist() == expected[3, :unseen].tolist()  # its unseen items first, best first
    assert len(set(got[4].tolist())) == 8  # distinct items even when all were seen


def test_top_k_rows_breaks_ties_by_the_lower_index() -> None:
    scores = np.array([[1.0, 3.0, 3.0, 2.0, 3.0]], dtype=np.float32)
    assert top_k_rows(scores, 4).tolist() == [[1, 2, 4, 3]]
    assert top_k(scores.copy(), 2, exclude=sp.csr_matrix(np.array([[0, 1, 0, 0, 0]]))).tolist() == [[2, 4]]


def test_top_k_rows_keeps_float64_precision() -> None:
    scores = np.array([[1.0 + 1e-12, 1.0, 1.0 + 2e-12]])  # one float32 value, three float64 ones
    assert top_k_rows(scores, 3).tolist() == [[2, 0, 1]]


def test_hit_matrix_matches_a_dense_look_up() -> None:
    rng = np.random.default_rng(2)
    relevant = sp.random(30, 40, density=0.15, random_state=2, format="csr")
    relevant.data[::3] = 0.0  # a stored zero is not relevant
    topk = rng.integers(0, 40, (30, 6))
    dense = relevant.toarray() > 0
    assert np.array_equal(hit_matrix(topk, relevant), np.take_along_axis(dense, topk, axis=1))
    assert not hit_matrix(topk, sp.csr_matrix((30, 40))).any()
