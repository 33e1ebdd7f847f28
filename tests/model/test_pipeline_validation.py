"""`graphrec train` chooses its epoch count on the same kind of split it is tested on (issue 30): each
user's newest training interactions, as the version's test holds out each user's newest ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.pipeline import PipelineConfig, train
from graphrec.model.trainer import Trainer
from graphrec.snapshot import Snapshot
from model.graphs import block_snapshot


def test_early_stopping_validates_on_each_users_newest_training_edges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = block_snapshot()
    seen: list[tuple[Snapshot, sp.csr_matrix]] = []
    run = Trainer._run

    def spy(self: Trainer, fit_on: Snapshot, validation: sp.csr_matrix | None, *args: Any, **kw: Any) -> Any:
        if validation is not None:
            seen.append((fit_on, validation))
        return run(self, fit_on, validation, *args, **kw)

    monkeypatch.setattr(Trainer, "_run", spy)
    cfg = PipelineConfig(
        holdout_fraction=0.1,
        train=TrainConfig(encoder=EncoderConfig(dim=8), epochs=4, batch_size=64, eval_every=2, validation_fraction=0.2),
    )
    out = train(cfg, models_path=tmp_path, half_life_days=30.0, snapshot=snapshot, version="v", progress=False)
    assert len(seen) == 1
    fit_on, validation = seen[0]
    stamps = snapshot.matrix("timestamps")
    users = np.flatnonzero(np.diff(validation.indptr) > 0)
    assert len(users) > 30
    for u in users:
        held = stamps[u, validation[u].indices].toarray().ravel()
        kept = fit_on.timestamps[fit_on.indptr[u] : fit_on.indptr[u + 1]]
        assert held.min() > kept.max(), f"user {u}: a validation edge older than a training edge"
    assert json.loads((out / "pipeline.json").read_text())["train"]["validation_protocol"] == "temporal"


def test_a_config_cannot_ask_for_a_random_validation_split() -> None:
    with pytest.raises(ValidationError, match="validation_protocol must be 'temporal'"):
        PipelineConfig.model_validate({"train": {"validation_protocol": "random"}})
    assert PipelineConfig.model_validate({"train": {"validation_protocol": "temporal"}})
