"""The early-stopping check (torch ranking), the trainer's validation split and its ``after_epoch`` hook."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphrec.evaluation.metrics import ranking_metrics, top_k
from graphrec.model.adjacency import BipartiteAdjacency
from graphrec.model.config import TrainConfig
from graphrec.model.trainer import Trainer, validation_split
from graphrec.model.validation import validation_metrics
from model.graphs import block_snapshot, small_config


def _random_case(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, sp.csr_matrix, sp.csr_matrix]:
    rng = np.random.default_rng(seed)
    n_users, n_items = 37, 60
    seen = sp.random(n_users, n_items, density=0.2, format="csr", random_state=seed, dtype=np.float32)
    held = sp.random(n_users, n_items, density=0.1, format="csr", random_state=seed + 1, dtype=np.float32)
    held = (held - held.multiply(seen > 0)).tocsr()  # validation items are never training items
    held.eliminate_zeros()
    held.data[:] = 1.0
    users = torch.from_numpy(rng.normal(size=(n_users, 8)).astype(np.float32))
    items = torch.from_numpy(rng.normal(size=(n_items, 8)).astype(np.float32))
    return users, items, seen, held


def _offline(u: torch.Tensor, i: torch.Tensor, seen: sp.csr_matrix, held: sp.csr_matrix, k: int) -> dict[str, float]:
    """The offline evaluation's numpy ranking of the same scores."""
    users = np.flatnonzero(np.diff(held.indptr) > 0)
    tops = top_k((u[torch.from_numpy(users)] @ i.T).numpy(), k, exclude=seen[users])
    m = ranking_metrics(
        tops, held[users], k=k, item_popularity=np.diff(seen.tocsc().indptr), n_users_train=seen.shape[0]
    )
    return {key: m[key] for key in (f"recall@{k}", f"ndcg@{k}")}


@pytest.mark.parametrize("chunk", [2048, 5])
def test_validation_metrics_equal_the_offline_evaluations(chunk: int) -> None:
    u, i, seen, held = _random_case()
    for k in (1, 5, 20):
        got = validation_metrics(u, i, seen, held, k, chunk=chunk)
        assert set(got) == {f"recall@{k}", f"ndcg@{k}"}
        expected = _offline(u, i, seen, held, k)
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=1e-12)
    assert 0 < validation_metrics(u, i, seen, held, 20)["recall@20"] < 1


def test_training_items_are_excluded_from_the_ranking() -> None:
    # one user; item 0 (seen in training) scores highest, item 1 (held out) second
    u = torch.tensor([[1.0, 0.0]])
    i = torch.tensor([[3.0, 0.0], [2.0, 0.0], [1.0, 0.0]])
    seen = sp.csr_matrix(np.array([[1.0, 0.0, 0.0]], dtype=np.float32))
    held = sp.csr_matrix(np.array([[0.0, 1.0, 0.0]], dtype=np.float32))
    assert validation_metrics(u, i, seen, held, 1) == {"recall@1": 1.0, "ndcg@1": 1.0}
    nothing_seen = sp.csr_matrix((1, 3), dtype=np.float32)
    assert validation_metrics(u, i, nothing_seen, held, 1)["recall@1"] == 0.0


def _cfg(**kw: object) -> TrainConfig:
    return small_config(**{"refit": False, **kw})


def test_the_trainer_validates_on_validation_split_with_validation_metrics() -> None:
    snap = block_snapshot()
    cfg = _cfg()
    result = Trainer(cfg, progress=False).fit(snap)
    split = validation_split(snap, cfg)
    assert split.train.n_edges + split.test.nnz == snap.n_edges and split.test.nnz > 0
    # the kept (best) weights, propagated over the split's training edges, score the recorded best recall
    adjacency = BipartiteAdjacency(split.train.matrix("weights"), aggr=cfg.encoder.aggr)
    u, i = result.model.get_embedding(adjacency.propagate, result.item_features)
    again = validation_metrics(u, i, split.train.matrix("weights"), split.test, cfg.metric_k)
    assert again[f"recall@{cfg.metric_k}"] == pytest.approx(result.best_metric, abs=1e-9)


def test_after_epoch_sees_every_row_and_can_stop_the_run() -> None:
    snap = block_snapshot()
    seen: list[dict[str, float]] = []

    def stop_after_five(row: dict[str, float]) -> bool:
        seen.append(dict(row))
        return row["epoch"] >= 5

    result = Trainer(_cfg(epochs=40, patience=10), progress=False, after_epoch=stop_after_five).fit(snap)
    assert [int(r["epoch"]) for r in seen] == [1, 2, 3, 4, 5]
    assert seen == result.history
    assert [int(r["epoch"]) for r in seen if "recall@20" in r] == [2, 4]
    assert result.best_epoch in (2, 4)

    rows: list[dict[str, float]] = []

    def never(row: dict[str, float]) -> bool:
        rows.append(row)
        return False

    stopped = Trainer(_cfg(epochs=200, patience=1), progress=False, after_epoch=never).fit(snap)
    # early stopping ended it before 200 epochs; the hook still saw the row it stopped on
    assert len(rows) == len(stopped.history) < 200
    assert "recall@20" in rows[-1] and rows[-1]["epoch"] > stopped.best_epoch
