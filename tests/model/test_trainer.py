"""Trainer: reproducible from a seed, early stopping records a curve, sampled mode learns too."""

from __future__ import annotations

import numpy as np

from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.negative_sampler import NegativeSampler
from graphrec.model.trainer import Trainer
from model.graphs import block_snapshot


def _cfg(**kw: object) -> TrainConfig:
    base: dict[str, object] = {"encoder": EncoderConfig(dim=8, layers=2), "epochs": 12, "batch_size": 64,
                               "lr": 0.02, "eval_every": 2, "patience": 2}
    base.update(kw)
    return TrainConfig.model_validate(base)


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
    result = Trainer(_cfg(mode="sampled", fanouts=[4, 3], epochs=20, validation_fraction=0.0),
                     progress=False).fit(snap)
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
            block_snapshot(groups=2, users_per_group=4, items_per_group=3))
        assert torch.get_num_threads() == resolve_threads("auto")
    finally:
        torch.set_num_threads(before)
