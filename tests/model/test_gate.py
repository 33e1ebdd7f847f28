"""Gated publish: a candidate is compared with the served version on its own held-out interactions,
and `graphrec publish --if-better` refuses one that does not win (issue 17)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from factories import DAY_MS, T0, delta
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.pipeline import PipelineConfig, published_version, train


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, starts_processes: None) -> tuple[Path, Path]:
    """An embedded store holding three taste groups, and the models directory the CLI uses."""
    store_dir, models = tmp_path / "store", tmp_path / "models"
    monkeypatch.setenv("GRAPHREC_GRAPH_URI", f"embedded:{store_dir}")
    monkeypatch.setenv("GRAPHREC_MODEL_DIR", str(models))
    rng = np.random.default_rng(3)
    deltas = [
        delta(f"u{u:02d}", f"i{(u % 3) * 12 + j:02d}", 1.0, ts=T0 - int(rng.integers(0, 30)) * DAY_MS)
        for u in range(45)
        for j in range(12)
        if rng.random() < 0.6
    ]
    store = FalkorDBStore.embedded(store_dir)
    try:
        store.upsert_interactions(deltas)
    finally:
        store.close()
    return store_dir, models


def _train(store_dir: Path, models: Path, version: str, *, epochs: int, lr: float, holdout: float = 0.25) -> Path:
    cfg = PipelineConfig(
        holdout_fraction=holdout,
        train=TrainConfig(
            encoder=EncoderConfig(dim=16, layers=2),
            epochs=epochs,
            lr=lr,
            batch_size=64,
            eval_every=5,
            validation_fraction=0.0 if epochs < 5 else 0.15,
            patience=3,
        ),
    )
    store = FalkorDBStore.embedded(store_dir)
    try:
        return train(cfg, models_path=models, half_life_days=30.0, store=store, version=version, progress=False)
    finally:
        store.close()


def _served(store_dir: Path) -> str | None:
    store = FalkorDBStore.embedded(store_dir)
    try:
        return published_version(store)
    finally:
        store.close()


def test_versions_carry_their_test_metrics(env: tuple[Path, Path]) -> None:
    out = _train(*env, "good", epochs=40, lr=0.02)
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 < metrics["test_recall@20"] <= 1 and metrics["test_users"] > 30 and metrics["holdout_edges"] > 30
    assert (out / "holdout.npz").exists()


def test_publish_if_better_refuses_a_worse_candidate_and_takes_a_better_one(env: tuple[Path, Path]) -> None:
    from graphrec.cli import app

    store_dir, models = env
    runner = CliRunner()
    _train(store_dir, models, "good", epochs=40, lr=0.02)
    _train(store_dir, models, "worse", epochs=1, lr=1e-6)  # barely trained: close to random
    first = runner.invoke(app, ["publish", "good", "--if-better"])  # nothing served yet: published
    assert first.exit_code == 0, first.output
    assert _served(store_dir) == "good"

    refused = runner.invoke(app, ["publish", "worse", "--if-better"])
    assert refused.exit_code == 1, refused.output
    assert "not published: worse does not beat good" in refused.output
    assert _served(store_dir) == "good"  # untouched

    compared = runner.invoke(app, ["compare", "worse", "--against", "current", "--json"])
    assert compared.exit_code == 0, compared.output
    result = json.loads(compared.output)
    assert result["candidate_wins"] is False and result["recall_difference"] < 0
    assert result["recall_interval"][1] < 0  # worse beyond the noise, not by luck
    assert result["users"] > 30

    assert runner.invoke(app, ["publish", "worse"]).exit_code == 0  # a plain publish is not gated
    back = runner.invoke(app, ["publish", "good", "--if-better"])
    assert back.exit_code == 0, back.output
    assert "the candidate wins" in back.output and _served(store_dir) == "good"


def test_compare_needs_a_candidate_trained_with_a_holdout(env: tuple[Path, Path]) -> None:
    from graphrec.cli import app

    store_dir, models = env
    _train(store_dir, models, "good", epochs=10, lr=0.02)
    _train(store_dir, models, "all-in", epochs=10, lr=0.02, holdout=0.0)
    result = CliRunner().invoke(app, ["compare", "all-in", "--against", "good"])
    assert result.exit_code == 2 and "trained without a holdout" in result.output


def test_versions_trained_on_one_snapshot_did_not_see_each_others_holdout(tmp_path: Path) -> None:
    """Two versions trained on the same snapshot hold out the same newest interactions: the served
    one never saw the candidate's test, so the comparison must not warn that it may have (it did,
    judging by the snapshot's date alone). One trained on everything did see it, and is named."""
    from graphrec.model.gate import compare_versions
    from model.graphs import block_snapshot

    snapshot = block_snapshot()
    snapshot.manifest["now_ms"] = int(snapshot.timestamps.max())  # as an export records it
    cfg = PipelineConfig(
        holdout_fraction=0.2,
        train=TrainConfig(encoder=EncoderConfig(dim=8), epochs=3, batch_size=64, validation_fraction=0.0),
    )
    for version, holdout in (("first", 0.2), ("second", 0.2), ("everything", 0.0)):
        train(
            cfg.model_copy(update={"holdout_fraction": holdout}),
            models_path=tmp_path,
            half_life_days=30.0,
            snapshot=snapshot,
            version=version,
            progress=False,
        )
    same = compare_versions(tmp_path / "second", tmp_path / "first")
    assert same.served_saw_holdout is False and "may have seen" not in same.report()
    # trained alike on one snapshot, the two are the same model: no difference, and the test says so
    assert same.recall_difference == 0.0 and same.recall_p == 1.0 and "paired t-test p = 1 (recall)" in same.report()
    saw = compare_versions(tmp_path / "second", tmp_path / "everything")
    assert saw.served_saw_holdout is True and "may have seen it" in saw.report()
