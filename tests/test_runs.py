"""`graphrec runs` and `graphrec runs compare` over real model versions trained on a small graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from model.graphs import block_snapshot
from typer.testing import CliRunner

from graphrec.model.artifact import ModelArtifact
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.pipeline import PipelineConfig, train, write_current
from graphrec.offline.runs import differing_settings, list_runs, popularity_bias

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two versions that differ in depth and learning rate, trained on the same block graph."""
    path = tmp_path_factory.mktemp("models")
    snap = block_snapshot(groups=3, users_per_group=12, items_per_group=10, density=0.5)
    for version, layers, lr in (("v1-mf", 0, 0.02), ("v2-sage", 2, 0.01)):
        cfg = PipelineConfig(
            train=TrainConfig(
                encoder=EncoderConfig(dim=8, layers=layers),
                lr=lr,
                epochs=10,
                batch_size=64,
                eval_every=2,
                validation_fraction=0.2,
            )
        )
        train(cfg, models_path=path, half_life_days=30.0, snapshot=snap, version=version, progress=False)
    write_current(path, "v2-sage")
    return path


def test_runs_lists_every_version_with_its_metrics(models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from graphrec.cli import app

    monkeypatch.setenv("GRAPHREC_MODEL_DIR", str(models))
    result = CliRunner().invoke(app, ["runs", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    # the version is its name, as compare and publish take it; whether it is current is its own field
    assert [(r["version"], r["current"]) for r in rows] == [("v1-mf", False), ("v2-sage", True)]
    assert [r["layers"] for r in rows] == [0, 2]
    assert all(0 <= r["validation_recall@20"] <= 1 and r["edges"] > 0 for r in rows)
    table = CliRunner().invoke(app, ["runs"])
    assert table.exit_code == 0 and "| v1-mf |  |" in table.output and "| v2-sage | * |" in table.output


def test_compare_writes_the_table_and_the_plots(models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from graphrec.cli import app

    monkeypatch.setenv("GRAPHREC_MODEL_DIR", str(models))
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["runs", "compare", "v1-mf", "latest", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert differing_settings(list_runs(models)) == ["encoder.layers", "lr"]
    text = (out / "compare.md").read_text()
    assert "`encoder.layers`, `lr`" in text and "| v1-mf |" in text and "| v2-sage |" in text
    for name in ("curves.png", "metrics.png", "popularity.png"):
        data = (out / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 5_000, name  # a real plot, not an empty canvas
    rows = json.loads((out / "compare.json").read_text())["runs"]
    assert all(0 < r["coverage@20"] <= 1 and 0 <= r["popularity_percentile@20"] <= 1 for r in rows)


def test_compare_refuses_unknown_versions_and_single_runs(
    models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graphrec.cli import app

    monkeypatch.setenv("GRAPHREC_MODEL_DIR", str(models))
    missing = CliRunner().invoke(app, ["runs", "compare", "v1-mf", "nope", "-o", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "no model version 'nope'" in missing.output
    single = CliRunner().invoke(app, ["runs", "compare", "v1-mf", "-o", str(tmp_path / "y")])
    assert single.exit_code == 2 and "at least two runs" in single.output


def test_popularity_bias_tells_a_popularity_model_from_a_uniform_one(models: Path) -> None:
    import numpy as np

    artifact = ModelArtifact.load(models / "v2-sage")
    popular = np.argsort(artifact.item_degree)[::-1]
    artifact.user_embeddings = np.ones((len(artifact.user_ids), 1), np.float32)
    artifact.item_embeddings = np.zeros((len(artifact.item_ids), 1), np.float32)
    artifact.item_embeddings[popular[:5], 0] = 1.0  # everyone gets the five most popular items
    biased = popularity_bias(artifact, k=5)
    assert biased.coverage == pytest.approx(5 / len(artifact.item_ids))
    assert biased.mean_popularity_percentile > 0.8


def test_the_popularity_plot_does_not_zoom_near_identical_runs_apart() -> None:
    """Both axes are shares and run from 0 to 1 whatever the points: two runs 0.003 apart sit 0.003
    apart on the plot, not at its opposite edges (matplotlib's auto-zoom put them there)."""
    import matplotlib.pyplot as plt

    from graphrec.offline.runs import popularity_figure

    rows = [
        {"version": "a", "coverage@20": 0.412, "popularity_percentile@20": 0.801},
        {"version": "b", "coverage@20": 0.415, "popularity_percentile@20": 0.798},
    ]
    fig = popularity_figure(rows)
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 1.0) and ax.get_ylim() == (0.0, 1.0)
    assert "(0.415, 0.798)" in [t.get_text() for t in ax.texts][1]  # each point carries its values
    plt.close(fig)
