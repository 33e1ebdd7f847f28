"""Inductive inference equals the full forward pass on an unchanged graph; artifacts round-trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from graphrec.model.artifact import ModelArtifact
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.neighbor_sampler import NeighborSampler
from graphrec.model.trainer import Trainer
from model.graphs import block_snapshot


def _config(**encoder: object) -> TrainConfig:
    return TrainConfig(
        encoder=EncoderConfig(dim=8, layers=2, **encoder), epochs=3, batch_size=64, validation_fraction=0.0, lr=0.01
    )


@pytest.mark.parametrize(
    "encoder",
    [
        {"aggr": "sym"},
        {"aggr": "mean", "activation": "tanh", "combine": "last"},
        {"aggr": "sum", "linear": False},
        {"aggr": "mean", "activation": "relu", "combine": "mean"},
        {"aggr": "sym", "normalize": True},
        {"aggr": "mean", "combine": "last", "normalize": False},
    ],
)
def test_infer_equals_full_forward(encoder: dict[str, object]) -> None:
    snap = block_snapshot()
    cfg = _config(**encoder)
    result = Trainer(cfg, progress=False).fit(snap)
    artifact = ModelArtifact.from_training(result, snap, version="t", config=cfg)
    users = snap.matrix("weights")
    for u in (0, 7, snap.n_users - 1):
        row = users[u]
        got = artifact.infer_user(row.indices, row.data, user_index=u)
        np.testing.assert_allclose(got, artifact.user_embeddings[u], rtol=1e-4, atol=1e-5)
    items = users.T.tocsr()
    for i in (0, 5):
        col = items[i]
        got = artifact.infer_item(col.indices, col.data, item_index=i)
        np.testing.assert_allclose(got, artifact.item_embeddings[i], rtol=1e-4, atol=1e-5)


def test_new_user_embedding_prefers_their_group(tmp_path: Path) -> None:
    snap = block_snapshot(seed=1)
    cfg = TrainConfig(
        encoder=EncoderConfig(dim=16, layers=2),
        epochs=40,
        batch_size=128,
        lr=0.02,
        validation_fraction=0.0,
        user_id_dropout=0.3,
    )
    artifact = ModelArtifact.from_training(Trainer(cfg, progress=False).fit(snap), snap, version="v", config=cfg)
    vector = artifact.infer_user(np.array([0, 1, 2]), np.ones(3))  # a newcomer who liked group-0 items
    ids, _ = artifact.recommend(vector, 5, exclude=np.array([0, 1, 2]))
    assert sum(int(i[1:]) < 10 for i in ids) >= 4
    loaded = ModelArtifact.load(artifact.save(tmp_path / "v"))
    np.testing.assert_array_equal(loaded.item_embeddings, artifact.item_embeddings)
    np.testing.assert_allclose(loaded.infer_user(np.array([0, 1, 2]), np.ones(3)), vector, rtol=1e-6)
    assert loaded.user_index("u005") == 5 and loaded.item_index("nope") is None


def test_sampled_forward_equals_full_when_fanout_covers_degrees() -> None:
    snap = block_snapshot()
    cfg = _config(aggr="sym")
    trainer = Trainer(cfg, progress=False)
    result = trainer.fit(snap)
    model = result.model.eval()
    full = model(result.adjacency.propagate, result.item_features).detach()
    max_deg = int(np.diff(result.adjacency.block.indptr).max())
    sampler = NeighborSampler(result.adjacency.block, [max_deg, max_deg], np.random.default_rng(0))
    users = np.array([0, 3, 9])
    items = np.array([1, 4])
    with torch.no_grad():
        lookup = trainer._embed(
            model, result.adjacency, result.item_features, sampler, users, items, np.random.default_rng(0), snap.n_users
        )
        torch.testing.assert_close(lookup(users), full[users], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(lookup(items + snap.n_users), full[items + snap.n_users], rtol=1e-4, atol=1e-5)


def test_infer_by_ids_skips_unknown_items() -> None:
    snap = block_snapshot()
    cfg = _config(aggr="sym")
    artifact = ModelArtifact.from_training(Trainer(cfg, progress=False).fit(snap), snap, version="t", config=cfg)
    row = snap.matrix("weights")[3]
    ids = [str(snap.item_ids[i]) for i in row.indices] + ["never-seen"]
    got = artifact.infer_user_from_ids(ids, np.append(row.data, 1.0), user_id="u003")
    assert got is not None
    np.testing.assert_allclose(got, artifact.user_embeddings[3], rtol=1e-4, atol=1e-5)
    assert artifact.infer_user_from_ids(["never-seen"], np.ones(1)) is None
