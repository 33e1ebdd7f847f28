"""``graphrec train --nproc N`` and under torchrun: rank 0 writes the version; what cannot work is one line, exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deadlines import START_S
from typer.testing import CliRunner

from graphrec.cli import app
from model.graphs import block_snapshot

SMALL = "[train]\nepochs = 4\nbatch_size = 64\neval_every = 2\n[train.encoder]\ndim = 8\n[new_users]\nenabled = false\n"


@pytest.fixture
def snapshot_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GRAPHREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GRAPHREC_MODEL_DIR", str(tmp_path / "models"))
    path = tmp_path / "snapshot"
    block_snapshot().save(path)
    return path


def _one_line_failure(args: list[str], *fragments: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line, result.stderr
    for fragment in fragments:
        assert fragment in line, (fragment, line)


def test_nproc_with_checkpoints_is_refused(snapshot_dir: Path, tmp_path: Path) -> None:
    args = ["train", "--snapshot", str(snapshot_dir), "--nproc", "2", "--checkpoint-dir", str(tmp_path / "ck")]
    _one_line_failure(args, "--checkpoint-dir", "distributed")


def test_torchrun_ranks_need_a_saved_snapshot(snapshot_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it for each rank
    _one_line_failure(["train"], "--snapshot is required under torchrun")
    _one_line_failure(["train", "--snapshot", str(snapshot_dir), "--nproc", "2"], "--nproc must be left out")


TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "graphrec"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("launcher", "nproc"),
    [([sys.executable, "-m", "graphrec"], ["--nproc", "2"]), (TORCHRUN, [])],
    ids=["nproc", "torchrun"],
)
def test_two_ranks_write_one_version_from_rank_0(
    snapshot_dir: Path, tmp_path: Path, launcher: list[str], nproc: list[str]
) -> None:
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    env = {**os.environ, "GRAPHREC_DATA_DIR": str(tmp_path / "data"), "GRAPHREC_MODEL_DIR": str(tmp_path / "models")}
    args = ["train", "--snapshot", str(snapshot_dir), "--config", str(config), *nproc, "--version", "v1", "-q"]
    done = subprocess.run([*launcher, *args], env=env, capture_output=True, text=True, timeout=START_S * 2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("model version v1 written") == 1  # rank 0 reports; under torchrun rank 1 is silent
    versions = [p.name for p in (tmp_path / "models").iterdir() if (p / "manifest.json").exists()]
    assert versions == ["v1"]
    metrics = json.loads((tmp_path / "models" / "v1" / "metrics.json").read_text())
    assert metrics["best_epoch"] >= 1 and metrics["validation_recall@20"] > 0


def test_a_failing_rank_is_named_by_its_exception_line() -> None:
    from graphrec.commands.distributed_training import _raised

    traceback = (
        "\n\n-- Process 1 terminated with the following error:\nTraceback (most recent call last):\n"
        '  File "x.py", line 3, in f\n    raise ValueError("local rank 1 has no GPU")\n'
        "ValueError: local rank 1 has no GPU\n  more detail\n"
    )
    assert _raised(traceback) == "ValueError: local rank 1 has no GPU"
