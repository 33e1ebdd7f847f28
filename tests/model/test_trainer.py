"""Trainer: reproducible from a seed, early stopping records a curve, sampled mode learns too."""

from __future__ import annotations

import numpy as np

from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.negative_sampler import NegativeSampler
from graphrec.model.trainer import Trainer
from model.graphs import block_snapshot, small_config

_cfg = small_config


def test_same_seed_same_embeddings() -> None:
    snap = block_snapshot()
    a = Trainer(_cfg(), progress=False).fit(snap).embeddings()
    b = Trainer(_cfg(), progress=False).fit(snap).embeddings()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = Trainer(_cfg(seed=1), progress=False).fit(snap).embeddings()
    assert not np.allclose(a[1], c[1])


def test_early_stopping_history_and_refit() -> None:
    result = Trainer(_cfg(epochs=40), progress=False).fit(block_snapshot())
    evaluated = [h for h in result.history if "recall@20" in h]
    assert evaluated and all(h["epoch"] % 2 == 0 or h["epoch"] == 40 for h in evaluated)
    assert result.best_epoch == max(evaluated, key=lambda h: h["recall@20"])["epoch"]
    assert result.best_metric > 0.3


def test_sampled_mode_learns_the_blocks() -> None:
    snap = block_snapshot()
    result = Trainer(_cfg(mode="sampled", fanouts=[4, 3], epochs=20, validation_fraction=0.0), progress=False).fit(snap)
    assert result.mode == "sampled"
    users, items = result.embeddings()
    scores = users @ items.T
    same = (np.arange(snap.n_users)[:, None] // 12) == (np.arange(snap.n_items)[None, :] // 10)
    assert scores[same].mean() > scores[~same].mean()


def test_negative_sampler_never_returns_positives() -> None:
    snap = block_snapshot(density=0.9)
    m = snap.matrix("ones")
    for dense_limit in (0, 10**9):  # binary-search and bitmap paths
        sampler = NegativeSampler(m, np.random.default_rng(0), rounds=20, dense_limit=dense_limit)
        users = np.repeat(np.arange(snap.n_users), 50)
        neg = sampler.uniform(users, 2)
        assert not np.asarray(m[np.repeat(users, 2), neg.ravel()]).any()


def test_threads_default_to_half_the_cpus_this_process_may_use() -> None:
    import os

    import torch

    from graphrec.model.config import resolve_threads

    assert TrainConfig().threads == "auto"
    assert resolve_threads("auto") == max(1, len(os.sched_getaffinity(0)) // 2)
    assert resolve_threads(3) == 3 and resolve_threads(None) is None
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(7)
        Trainer(TrainConfig(epochs=1, validation_fraction=0.0), progress=False).fit(
            block_snapshot(groups=2, users_per_group=4, items_per_group=3)
        )
        assert torch.get_num_threads() == resolve_threads("auto")
    finally:
        torch.set_num_threads(before)


class _Interrupted(Exception):
    pass


class _CountingTrainer(Trainer):
    """Counts epochs and dies (like a killed job) once ``stop_after`` epochs have run."""

    def __init__(self, *args: object, stop_after: int = 10**9, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.calls, self.stop_after = 0, stop_after

    def _epoch(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.calls >= self.stop_after:
            raise _Interrupted
        self.calls += 1
        return super()._epoch(*args, **kwargs)


def test_a_killed_run_resumes_from_its_checkpoint_to_the_same_model(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from graphrec.model.checkpoint import CheckpointMismatch

    snap = block_snapshot(groups=4, users_per_group=10, items_per_group=10, density=0.3)
    cfg = TrainConfig(
        encoder=EncoderConfig(dim=8, layers=2),
        epochs=12,
        batch_size=32,
        eval_every=2,
        lr=0.003,
        metric_k=2,
        validation_fraction=0.2,
        checkpoint_every=2,
        patience=10,
        threads=1,
    )
    straight = _CountingTrainer(cfg, progress=False)
    expected = straight.fit(snap)
    fit_epochs = len(expected.history)
    assert expected.best_epoch >= 4  # a refit long enough to be killed half way
    assert straight.calls == fit_epochs + expected.best_epoch  # early-stopping run, then the refit
    for stop_after, rerun in ((7, 1), (fit_epochs + 3, 1)):  # killed in the fit phase, then in the refit
        ck = tmp_path / f"ck{stop_after}"
        with pytest.raises(_Interrupted):
            _CountingTrainer(cfg, progress=False, checkpoint_dir=ck, stop_after=stop_after).fit(snap)
        resumed = _CountingTrainer(cfg, progress=False, checkpoint_dir=ck)
        result = resumed.fit(snap)
        # only the epochs after the last checkpoint (every 2 epochs) run again
        assert resumed.calls == straight.calls - stop_after + rerun
        assert result.best_epoch == expected.best_epoch
        assert [h["loss"] for h in result.history] == [h["loss"] for h in expected.history]
        for got, want in zip(result.embeddings(), expected.embeddings(), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    finished = _CountingTrainer(cfg, progress=False, checkpoint_dir=tmp_path / "ck7")
    finished.fit(snap)
    assert finished.calls == 0  # both phases complete: nothing to redo
    with pytest.raises(CheckpointMismatch, match="another config or snapshot"):
        Trainer(cfg.model_copy(update={"lr": 0.05}), progress=False, checkpoint_dir=tmp_path / "ck7").fit(snap)


def test_training_refuses_a_snapshot_without_positive_weights() -> None:
    import pytest

    snap = block_snapshot(groups=2, users_per_group=4, items_per_group=3)
    snap.weights[:] = 0.0
    with pytest.raises(ValueError, match="none with a positive weight"):
        Trainer(TrainConfig(epochs=1), progress=False).fit(snap)


def test_softmax_loss_learns_the_blocks_in_full_and_sampled_mode() -> None:
    snap = block_snapshot()
    same = (np.arange(snap.n_users)[:, None] // 12) == (np.arange(snap.n_items)[None, :] // 10)
    softmax = {"loss": "softmax", "negatives": 16, "temperature": 0.2, "validation_fraction": 0.0, "epochs": 20}
    for mode in ("full", "sampled"):
        cfg = _cfg(mode=mode, fanouts=[4, 3], encoder=EncoderConfig(dim=8, layers=2, normalize=True), **softmax)
        result = Trainer(cfg, progress=False).fit(snap)
        assert result.mode == mode
        users, items = result.embeddings()
        np.testing.assert_allclose(np.linalg.norm(items, axis=1), 1.0, rtol=1e-5)  # cosine scores, as served
        scores = users @ items.T
        assert scores[same].mean() > scores[~same].mean() + 0.2
