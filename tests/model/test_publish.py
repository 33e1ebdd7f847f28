"""train -> version directory (with its tuned blend) -> publish: embeddings on the nodes, the store's
current-version record and the local CURRENT cache updated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from store_reads import stored_embedding

from factories import T0, delta
from graphrec.export import ExportConfig
from graphrec.graph.port import GraphStore
from graphrec.model.artifact import ModelArtifact
from graphrec.model.blend_tuning import load_blend
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.pipeline import (
    PipelineConfig,
    current_version,
    list_versions,
    publish,
    published_version,
    train,
)


@pytest.fixture
def store(any_store: GraphStore) -> GraphStore:
    """Both stores, each a live server: this is part of the adapter contract."""
    return any_store


def test_train_and_publish_round_trip(store: GraphStore, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    deltas = [
        delta(f"u{u}", f"i{(u % 3) * 5 + j}", float(rng.uniform(0.5, 2)), ts=T0 - int(j) * 3_600_000)
        for u in range(24)
        for j in rng.choice(5, size=3, replace=False)
    ]
    store.upsert_interactions(deltas)
    cfg = PipelineConfig(
        export=ExportConfig(now_ms=T0),
        train=TrainConfig(
            encoder=EncoderConfig(dim=8, layers=2), epochs=10, batch_size=32, eval_every=2, validation_fraction=0.2
        ),
    )
    models = tmp_path / "models"
    first = train(cfg, models_path=models, half_life_days=30.0, store=store, version="v1", progress=False)
    second = train(cfg, models_path=models, half_life_days=30.0, store=store, version="v2", progress=False)
    assert list_versions(models) == ["v1", "v2"]
    for out in (first, second):
        for name in (
            "config.json",
            "weights.pt",
            "user_ids.npy",
            "item_embeddings.npy",
            "metrics.json",
            "manifest.json",
            "index/index.json",
            "blend.json",
        ):
            assert (out / name).exists(), name
        blend = load_blend(out)  # tuned at training time, on the training snapshot: serving only loads it
        assert blend is not None and blend.source == "tuned" and blend.metric == "ndcg@20"

    version, n_users, n_items = publish(store, models_path=models, version="latest", half_life_days=30.0)
    assert (version, n_users, n_items) == ("v2", 24, 15)
    assert store.get_meta(key="model_version") == published_version(store) == "v2"
    assert current_version(models) == "v2"
    artifact = ModelArtifact.load(second)
    stored = stored_embedding(store, "Item", "i3")
    assert stored is not None
    np.testing.assert_allclose(stored, artifact.item_embeddings[artifact.item_index("i3")], rtol=1e-5)
    user = stored_embedding(store, "User", "u7")
    assert user is not None and user.shape == (8,)
    assert artifact.manifest["snapshot_hash"] == artifact.manifest["snapshot"]["content_hash"]

    (first / "blend.json").unlink()  # as a version trained before training tuned the blend
    publish(store, models_path=models, version="v1", half_life_days=30.0)
    assert published_version(store) == "v1" and current_version(models) == "v1"
    tuned = load_blend(first)  # publish tuned it from a fresh export: the API never has to
    assert tuned is not None and tuned.source == "tuned"
