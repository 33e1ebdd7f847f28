"""Contract every Recommender plugs into: on a block-structured graph, held-out in-block cells must
rank above out-of-block items, and the evaluation harness produces a well-formed row."""

from __future__ import annotations

import numpy as np
import pytest
from model.graphs import block_snapshot

from graphrec.evaluation.baselines import ImplicitALS, ItemKNN, MostPopular, TraversalRecommender
from graphrec.evaluation.baselines.gds_fastrp import GdsFastRPKnn
from graphrec.evaluation.protocol import Recommender
from graphrec.evaluation.splits import random_holdout
from graphrec.experiments.runner import evaluate_model
from graphrec.graph.neo4j_gds import FastRPConfig
from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.recommender import GraphSAGERecommender


def _small_sage(layers: int) -> GraphSAGERecommender:
    cfg = TrainConfig(encoder=EncoderConfig(dim=16, layers=layers), epochs=30, batch_size=128, lr=0.02,
                      eval_every=5, patience=3, hard_negatives=0.5)
    return GraphSAGERecommender(cfg, progress=False, name="GraphSAGE" if layers else "MF-BPR")


PERSONALISED = [
    pytest.param(lambda: ItemKNN(neighbours=20), id="ItemKNN"),
    pytest.param(lambda: TraversalRecommender(half_life_days=30.0), id="Traversal"),
    pytest.param(lambda: ImplicitALS(factors=8, iterations=10), id="ALS"),
    pytest.param(lambda: _small_sage(0), id="MF-BPR"),
    pytest.param(lambda: _small_sage(2), id="GraphSAGE"),
]


@pytest.mark.parametrize("factory", PERSONALISED)
def test_recommender_ranks_held_out_block_cells_first(factory: object) -> None:
    _ranks_held_out_block_cells_first(factory())  # type: ignore[operator]


def test_gds_fastrp_knn_on_a_live_neo4j_ranks_held_out_block_cells_first(neo4j_store: Neo4jStore) -> None:
    gds = neo4j_store.gds()
    assert gds is not None, "the test Neo4j ships GDS"
    before = neo4j_store.counts()
    _ranks_held_out_block_cells_first(GdsFastRPKnn(gds, FastRPConfig(dim=32, neighbours=20)))
    assert neo4j_store.counts() == before, "the baseline projects from parameters: the database is untouched"


def _ranks_held_out_block_cells_first(model: Recommender) -> None:
    snap = block_snapshot(groups=3, users_per_group=15, items_per_group=12, density=0.5)
    split = random_holdout(snap, seed=0)
    assert isinstance(model, Recommender)
    row = evaluate_model(model, split, [10])
    scores = model.score(np.arange(snap.n_users))
    assert scores.shape == (snap.n_users, snap.n_items)
    # held-out in-block cells beat out-of-block cells on average (AUC-like check per user)
    group_u = np.arange(snap.n_users) // 15
    group_i = np.arange(snap.n_items) // 12
    train = split.train.matrix("ones").toarray() > 0
    wins = []
    for u in range(snap.n_users):
        held = split.test[u].indices
        other = np.flatnonzero((group_i != group_u[u]) & ~train[u])
        if len(held) and len(other):
            wins.append((scores[u, held][:, None] > scores[u, other][None, :]).mean())
    assert np.mean(wins) > 0.8, np.mean(wins)
    pop_row = evaluate_model(MostPopular(), split, [10])
    assert row["recall@10"] > pop_row["recall@10"]
    assert {"model", "recall@10", "ndcg@10", "precision@10", "hit_rate@10", "mrr@10", "coverage@10",
            "novelty@10", "fit_seconds"} <= set(row)
