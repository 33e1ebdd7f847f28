"""Checkpoints of a training phase, so a long run that stops (a killed job, a reboot) resumes where it was.

A checkpoint holds everything the next epoch depends on: the model and optimiser states, both random
generators (numpy's, which draws batches and negatives, and torch's), the best weights so far and the
early-stopping counters. Resuming therefore gives the same model an uninterrupted run gives.

It is bound to what it was trained on: a fingerprint of the training config and the snapshot's content
hash. A checkpoint from another config or graph is refused with the reason, never silently resumed.
Files are written to a temporary name and renamed, so a crash mid-write leaves the previous one.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch


class CheckpointMismatch(ValueError):
    """The directory holds a checkpoint of another run (config or data differ)."""


def fingerprint(config_json: str, snapshot_hash: str | None, phase: str) -> str:
    """What a checkpoint may be resumed by: the same config, graph and phase."""
    return hashlib.sha256(f"{config_json}\x1f{snapshot_hash}\x1f{phase}".encode()).hexdigest()


@dataclass
class Checkpoint:
    """The state after ``epoch`` of one phase (``fit`` = early-stopping run, ``refit`` = on all edges)."""

    fingerprint: str
    epoch: int
    model: dict[str, torch.Tensor]
    optimizers: list[dict[str, Any]]
    numpy_rng: dict[str, Any]
    torch_rng: torch.Tensor
    best_state: dict[str, torch.Tensor] | None
    best_metric: float
    best_epoch: int
    stale: int
    history: list[dict[str, float]] = field(default_factory=list)
    epoch_times: list[float] = field(default_factory=list)
    complete: bool = False

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(self.__dict__, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, *, expected: str) -> Checkpoint | None:
        """The checkpoint at ``path`` if there is one; :class:`CheckpointMismatch` if it is another run's."""
        if not path.exists():
            return None
        # graphrec's own file; it holds numpy generator state (plain ints) next to tensors
        state = torch.load(path, weights_only=False, map_location="cpu")  # a GPU run resumes anywhere
        if state.get("fingerprint") != expected:
            raise CheckpointMismatch(
                f"{path} was written by a run with another config or snapshot: "
                "delete it, or give this run another checkpoint directory"
            )
        return cls(**state)
