"""Intervals over seeds and paired tests: the numbers behind "model A beats model B"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from graphrec.evaluation.statistics import mean_interval, paired_comparison


def test_mean_interval_is_the_student_t_interval() -> None:
    mean, half = mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(4.302653 * 1.0 / np.sqrt(3), rel=1e-5)  # t(0.975, 2 df) * s / sqrt(n)
    assert np.isnan(mean_interval([0.5])[1])


def test_a_consistent_lead_is_significant_and_no_difference_is_not() -> None:
    rng = np.random.default_rng(0)
    base = [rng.random(300) for _ in range(3)]
    better = [b + 0.05 + rng.normal(0, 0.02, b.shape) for b in base]
    lead = paired_comparison("A", "B", "recall@20", better, base)
    assert lead.difference == pytest.approx(0.05, abs=0.01)
    assert lead.interval[0] > 0 and lead.t_test_p < 1e-6 and lead.wilcoxon_p < 1e-6
    assert lead.pairs == 900 and lead.seeds == 3
    same = paired_comparison("A", "B", "recall@20", base, base)
    assert same.difference == 0.0 and same.t_test_p == 1.0 and same.wilcoxon_p == 1.0
    noise = paired_comparison("A", "B", "recall@20", [b + rng.normal(0, 0.05, b.shape) for b in base], base)
    assert noise.t_test_p > 0.001
    with pytest.raises(ValueError, match="same users"):
        paired_comparison("A", "B", "recall@20", [base[0]], [base[1][:10]])


def _write_movielens(root: Path, *, users: int = 40, items: int = 30, seed: int = 0) -> Path:
    """A u.data in MovieLens's format: two taste groups, so personalised models beat popularity."""
    rng = np.random.default_rng(seed)
    lines = []
    for u in range(1, users + 1):
        group = u % 2
        for i in range(1, items + 1):
            if (i % 2 == group and rng.random() < 0.6) or rng.random() < 0.05:
                lines.append(f"{u}\t{i}\t{rng.integers(1, 6)}\t{880000000 + int(rng.integers(0, 10**6))}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "u.data").write_text("\n".join(lines) + "\n")
    return root


def test_evaluate_with_seeds_reports_intervals_and_a_paired_test(tmp_path: Path) -> None:
    from graphrec.cli import app

    data = _write_movielens(tmp_path / "ml")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--dataset",
            f"movielens:{data}",
            "--seeds",
            "0,1,2",
            "--output",
            str(out),
            "--models",
            "MostPopular,ItemKNN,EASE",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "results.json").read_text())
    rows, meta = report["results"], report["meta"]
    assert [r["model"] for r in rows] == ["MostPopular", "ItemKNN", "EASE"]
    assert meta["seed"] == [0, 1, 2] and sorted(meta["per_seed"]) == ["0", "1", "2"]
    for row in rows:
        per_seed = [next(r for r in meta["per_seed"][s] if r["model"] == row["model"]) for s in ("0", "1", "2")]
        assert row["seeds"] == 3
        assert row["recall@20"] == pytest.approx(np.mean([r["recall@20"] for r in per_seed]))
        assert row["recall@20 ±"] > 0  # the three random splits differ, so the seeds disagree a little
    best_two = sorted(rows, key=lambda r: r["recall@20"], reverse=True)[:2]
    assert (meta["paired_test"]["a"], meta["paired_test"]["b"]) == (best_two[0]["model"], best_two[1]["model"])
    assert 0 <= meta["paired_test"]["t_test_p"] <= 1
    assert "Paired test of the two best models" in (out / "results.md").read_text()
    assert "paired test of the two best models" in result.output


def test_evaluate_refuses_malformed_seeds(tmp_path: Path) -> None:
    from graphrec.cli import app

    result = CliRunner().invoke(
        app, ["evaluate", "--dataset", f"movielens:{tmp_path}", "--seeds", "0,x", "--output", str(tmp_path / "run")]
    )
    assert result.exit_code == 2 and "--seeds must be comma-separated integers" in result.output


def test_evaluate_refuses_an_unknown_rating_mode(tmp_path: Path) -> None:
    from graphrec.cli import app

    data = _write_movielens(tmp_path / "ml")
    result = CliRunner().invoke(
        app, ["evaluate", "--dataset", f"movielens:{data}", "--ratings", "stars", "--output", str(tmp_path / "run")]
    )
    assert result.exit_code == 2 and "ratings:" in result.output and "signed" in result.output
