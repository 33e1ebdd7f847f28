"""The ``device`` setting: training where it is asked to run, and a missing GPU refused, never faked.

One test per behaviour, each branching on what this machine has: on a machine without a GPU the
'cuda' request must fail with a clear error (before any data is read); on a machine with one the same
test trains on it and checks the model comes back to the host, close to the CPU run.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from graphrec.cli import app
from graphrec.model.config import TrainConfig, resolve_device
from graphrec.model.trainer import Trainer
from model.graphs import block_snapshot, small_config


def _cfg(device: str, **kw: object) -> TrainConfig:
    return small_config(device=device, **kw)


def _block_separation(result_embeddings: tuple[np.ndarray, np.ndarray], n_users: int, n_items: int) -> float:
    users, items = result_embeddings
    scores = users @ items.T
    same = (np.arange(n_users)[:, None] // 12) == (np.arange(n_items)[None, :] // 10)
    return float(scores[same].mean() - scores[~same].mean())


def test_auto_is_the_gpu_when_there_is_one_and_cpu_is_always_the_cpu() -> None:
    assert TrainConfig().device == "auto"
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("mode", ["full", "sampled"])
def test_cuda_trains_on_the_gpu_or_is_refused_without_one(mode: str) -> None:
    snap = block_snapshot()
    extra: dict[str, object] = {"mode": mode, "fanouts": [4, 3]}
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' was asked for .* sees no usable GPU"):
            Trainer(_cfg("cuda", **extra), progress=False).fit(snap)
        return
    on_gpu = Trainer(_cfg("cuda", **extra), progress=False).fit(snap)
    assert next(on_gpu.model.parameters()).device.type == "cpu"  # back on the host for serving
    assert on_gpu.adjacency.pair[0].device.type == "cpu"
    on_cpu = Trainer(_cfg("cpu", **extra), progress=False).fit(snap)
    gpu_sep = _block_separation(on_gpu.embeddings(), snap.n_users, snap.n_items)
    cpu_sep = _block_separation(on_cpu.embeddings(), snap.n_users, snap.n_items)
    assert gpu_sep > 0 and cpu_sep > 0
    assert abs(on_gpu.best_metric - on_cpu.best_metric) < 0.15


def test_cpu_device_matches_the_default_run_on_a_machine_without_a_gpu() -> None:
    snap = block_snapshot()
    explicit = Trainer(_cfg("cpu"), progress=False).fit(snap).embeddings()
    auto = Trainer(_cfg("auto"), progress=False).fit(snap).embeddings()
    if torch.cuda.is_available():  # auto took the GPU: the same seed, another device's arithmetic
        assert _block_separation(auto, snap.n_users, snap.n_items) > 0
    else:
        np.testing.assert_array_equal(explicit[1], auto[1])


def test_train_cli_refuses_a_bad_or_missing_device_before_reading_any_data(tmp_path) -> None:  # noqa: ANN001
    runner = CliRunner()
    # a snapshot path that does not exist: reaching it would be a different error, so the device check came first
    bad = runner.invoke(app, ["train", "--device", "tpu", "--snapshot", str(tmp_path / "none")])
    assert bad.exit_code == 2 and "--device must be auto, cpu or cuda, got 'tpu'" in bad.output
    if not torch.cuda.is_available():
        missing = runner.invoke(app, ["train", "--device", "cuda", "--snapshot", str(tmp_path / "none")])
        assert missing.exit_code == 2 and "sees no usable GPU" in missing.output
        ev = runner.invoke(app, ["evaluate", "--device", "cuda", "--dataset", "movielens:" + str(tmp_path)])
        assert ev.exit_code == 2 and "sees no usable GPU" in ev.output
