"""Contract every EvaluatedModel plugs into: on a block-structured graph, held-out in-block cells must
rank above out-of-block items, and the evaluation harness produces a well-formed row."""

from __future__ import annotations

import numpy as np
import pytest
from model.graphs import block_snapshot

from graphrec.evaluation.baselines import EASE, ImplicitALS, ItemKNN, MostPopular, TraversalRecommender
from graphrec.evaluation.baselines.ease import CatalogueTooLarge
from graphrec.evaluation.baselines.gds_fastrp import GdsFastRPKnn
from graphrec.evaluation.evaluated_model import EvaluatedModel
from graphrec.evaluation.metrics import top_k
from graphrec.evaluation.splits import random_holdout
from graphrec.graph.neo4j_gds import FastRPConfig
from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.recommender import GraphSAGERecommender
from graphrec.offline.runner import EvalConfig, _graphsage, evaluate_model, load_split, tune
from graphrec.snapshot import Snapshot


def _small_sage(layers: int) -> GraphSAGERecommender:
    cfg = TrainConfig(
        encoder=EncoderConfig(dim=16, layers=layers),
        epochs=30,
        batch_size=128,
        lr=0.02,
        eval_every=5,
        patience=3,
        hard_negatives=0.5,
    )
    return GraphSAGERecommender(cfg, progress=False, name="GraphSAGE" if layers else "MF-BPR")


PERSONALISED = [
    pytest.param(lambda: ItemKNN(neighbours=20), id="ItemKNN"),
    pytest.param(lambda: ItemKNN(neighbours=20, shrink=10.0, prune="row"), id="ItemKNN-row"),
    pytest.param(lambda: EASE(l2=10.0), id="EASE"),
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


def _ranks_held_out_block_cells_first(model: EvaluatedModel) -> None:
    snap = block_snapshot(groups=3, users_per_group=15, items_per_group=12, density=0.5)
    split = random_holdout(snap, seed=0)
    assert isinstance(model, EvaluatedModel)
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
    assert {
        "model",
        "recall@10",
        "ndcg@10",
        "precision@10",
        "hit_rate@10",
        "mrr@10",
        "coverage@10",
        "novelty@10",
        "fit_seconds",
    } <= set(row)


def test_ease_is_the_constrained_ridge_solution() -> None:
    """Each column of B solves min ||X_j - X B_j||^2 + l2 ||B_j||^2 with B_jj = 0: a ridge regression
    of item j on every other item, solved here directly and compared with the closed form."""
    snap = block_snapshot(groups=2, users_per_group=8, items_per_group=5, density=0.6)
    model = EASE(l2=3.0)
    model.fit(snap)
    x = snap.matrix("ones").toarray().astype(np.float64)
    for j in range(snap.n_items):
        others = np.delete(np.arange(snap.n_items), j)
        a = x[:, others]
        direct = np.linalg.solve(a.T @ a + 3.0 * np.eye(len(others)), a.T @ x[:, j])
        np.testing.assert_allclose(model._weights[others, j], direct, rtol=1e-4, atol=1e-5)
        assert model._weights[j, j] == 0.0
    np.testing.assert_allclose(model.score(np.arange(3)), x[:3] @ model._weights, rtol=1e-5, atol=1e-6)


def test_ease_refuses_a_catalogue_above_its_bound() -> None:
    snap = block_snapshot(groups=2, users_per_group=4, items_per_group=5)
    with pytest.raises(CatalogueTooLarge, match="max_items=5"):
        EASE(max_items=5).fit(snap)


def test_item_knn_column_pruning_keeps_each_candidates_nearest_items() -> None:
    snap = block_snapshot(groups=3, users_per_group=10, items_per_group=8, density=0.6)
    column, row = ItemKNN(neighbours=3, prune="column"), ItemKNN(neighbours=3, prune="row")
    column.fit(snap)
    row.fit(snap)
    assert np.diff(column._similarity.tocsc().indptr).max() <= 3  # per candidate (column)
    assert np.diff(row._similarity.tocsr().indptr).max() <= 3  # per seed item (row)
    np.testing.assert_allclose(column._similarity.toarray(), row._similarity.toarray().T)
    with pytest.raises(ValueError, match="prune"):
        ItemKNN(prune="diagonal")  # type: ignore[arg-type]


def test_tuning_and_early_stopping_follow_the_test_protocol() -> None:
    snap = block_snapshot(groups=2, users_per_group=10, items_per_group=8, density=0.6)
    for protocol in ("random", "temporal"):
        cfg = EvalConfig(dataset="store", protocol=protocol, seed=3)
        _, extra = tune("ItemKNN", cfg, load_split(cfg, snapshot=snap))
        assert extra["validation_split"].startswith(protocol), extra
        assert _graphsage(cfg).config.validation_protocol == protocol


def test_item_knn_pruned_keeps_the_nearest_of_a_wider_fit() -> None:
    """A neighbours grid prunes one wide fit (the new-user protocol's tuning); it keeps what a narrow fit keeps."""
    snap = block_snapshot()
    wide = ItemKNN(neighbours=20, shrink=10.0)
    wide.fit(snap)
    narrow = ItemKNN(neighbours=5, shrink=10.0)
    narrow.fit(snap)
    pruned = wide.pruned(5)
    assert pruned.neighbours == 5 and pruned.shrink == 10.0
    got, want = pruned._kept, narrow._kept  # row i: item i's nearest items
    assert got.shape == want.shape and got.nnz == want.nnz < wide._kept.nnz
    for row in range(got.shape[0]):  # the same similarities kept per item (a tie may keep another item)
        np.testing.assert_allclose(np.sort(got[row].data), np.sort(want[row].data), rtol=1e-6)
    np.testing.assert_allclose(pruned._similarity.toarray(), got.T.toarray())  # column-pruned: the transpose
    with pytest.raises(ValueError, match="cannot keep 30 neighbours of a fit that kept 20"):
        wide.pruned(30)


def _dense_cosine_nearest(snap: Snapshot, neighbours: int, shrink: float) -> list[np.ndarray]:
    """Per item, the similarities of its ``neighbours`` nearest items by a dense cosine (the definition,
    as the first ItemKNN computed it): the oracle the sparse, shared computation must reproduce."""
    x = snap.matrix("ones").toarray().astype(np.float32)
    norms = np.sqrt((x * x).sum(0))
    sim = (x.T @ x) / (np.outer(norms, norms) + shrink + 1e-12)
    np.fill_diagonal(sim, 0.0)
    return [np.sort(row[row > 0])[::-1][:neighbours] for row in sim]


def test_item_knn_grid_gives_the_models_of_fitting_each_point_alone() -> None:
    """The tuning grid shares one co-occurrence product; every point must be the model a separate fit
    gives (same kept similarities, same scores, same top-10 lists) and match the dense definition."""
    snap = block_snapshot(groups=3, users_per_group=20, items_per_group=15, density=0.4)
    neighbours, shrinks = [3, 10, 50], [0.0, 10.0, 50.0]
    grid = list(ItemKNN.grid(snap, neighbours=neighbours, shrinks=shrinks))
    assert [(m.shrink, m.neighbours) for m in grid] == [(h, k) for h in shrinks for k in neighbours]
    users = np.arange(snap.n_users)
    exclude = snap.matrix("ones")
    for shared in grid:
        alone = ItemKNN(neighbours=shared.neighbours, shrink=shared.shrink)
        alone.fit(snap)
        assert (shared._kept != alone._kept).nnz == 0
        np.testing.assert_array_equal(shared.score(users), alone.score(users))
        np.testing.assert_array_equal(
            top_k(shared.score(users), 10, exclude=exclude), top_k(alone.score(users), 10, exclude=exclude)
        )
        oracle = _dense_cosine_nearest(snap, shared.neighbours, shared.shrink)
        kept = shared._kept.tocsr()
        for item, want in enumerate(oracle):  # tie-invariant: the kept values, largest first
            np.testing.assert_allclose(np.sort(kept[item].data)[::-1], want, rtol=1e-6)
    assert grid[0]._kept.nnz < grid[1]._kept.nnz < grid[2]._kept.nnz  # the grid really prunes
