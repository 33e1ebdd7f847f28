"""Ranking metrics and split protocols against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from model.graphs import block_snapshot

from graphrec.evaluation.metrics import (
    coverage,
    hit_matrix,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    top_k,
)
from graphrec.evaluation.splits import random_holdout, temporal_holdout


def test_top_k_orders_and_excludes() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.7], [1.0, 0.2, 0.3, 0.0]], dtype=np.float32)
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 0, 0]]))
    assert top_k(scores.copy(), 2).tolist() == [[1, 3], [0, 2]]
    assert top_k(scores.copy(), 2, exclude=exclude).tolist() == [[3, 2], [2, 1]]


def test_hand_computed_metrics() -> None:
    # user 0: relevant {2, 5}; ranked [2, 7, 5]  -> hits at ranks 1 and 3
    # user 1: relevant {9};    ranked [1, 2, 3]  -> no hit
    topk = np.array([[2, 7, 5], [1, 2, 3]])
    relevant = sp.csr_matrix((np.ones(3), ([0, 0, 1], [2, 5, 9])), shape=(2, 10))
    hits = hit_matrix(topk, relevant)
    assert hits.tolist() == [[True, False, True], [False, False, False]]
    n_rel = np.array([2, 1])
    np.testing.assert_allclose(recall_at_k(hits, n_rel), [1.0, 0.0])
    np.testing.assert_allclose(precision_at_k(hits), [2 / 3, 0.0])
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    np.testing.assert_allclose(ndcg_at_k(hits, n_rel), [dcg / idcg, 0.0])
    np.testing.assert_allclose(mrr_at_k(np.array([[False, True, True], [False, False, False]])), [0.5, 0.0])
    assert coverage(topk, 10) == pytest.approx(5 / 10)
    popularity = np.array([4, 4, 2, 1, 4, 4, 4, 1, 4, 4])
    expected = np.mean(-np.log2(popularity[topk] / 4))
    assert novelty(topk, popularity, 4) == pytest.approx(expected)


def test_ranking_metrics_skips_users_without_relevant_items() -> None:
    topk = np.array([[0, 1], [0, 1]])
    relevant = sp.csr_matrix((np.ones(1), ([0], [1])), shape=(2, 3))
    m = ranking_metrics(topk, relevant, k=2, item_popularity=np.ones(3), n_users_train=2)
    assert m["recall@2"] == 1.0 and m["hit_rate@2"] == 1.0 and m["mrr@2"] == 0.5
    assert m["ndcg@2"] == pytest.approx(1 / math.log2(3))


def test_random_holdout_is_seeded_per_user_and_disjoint() -> None:
    snap = block_snapshot()
    a, b = random_holdout(snap, seed=3), random_holdout(snap, seed=3)
    assert (a.test != b.test).nnz == 0
    deg = np.diff(snap.indptr)
    held = np.diff(a.test.indptr)
    assert np.all(held == np.minimum(np.maximum(np.rint(0.2 * deg), 1), deg - 1))
    assert a.train.n_edges + a.test.nnz == snap.n_edges
    assert a.train.matrix("ones").multiply(a.test).nnz == 0
    assert (random_holdout(snap, seed=4).test != a.test).nnz > 0


def test_temporal_holdout_keeps_the_latest_edges() -> None:
    snap = block_snapshot()
    split = temporal_holdout(snap, test_fraction=0.25)
    train_ts = split.train.matrix("timestamps")
    full_ts = snap.matrix("timestamps")
    for u in range(snap.n_users):
        held = split.test[u].indices
        if len(held):
            assert full_ts[u, held].min() >= train_ts[u].data.max()
