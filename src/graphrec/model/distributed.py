"""Data-parallel training with ``torch.distributed``: the process group, the ranks, and the local launcher.

Why one module: every rule that keeps N ranks in lockstep lives here, so the trainer only asks "which
slice of this epoch is mine", "wrap this model", "agree on this number". DistributedDataParallel
averages gradients across ranks in every backward, so ranks that start from the same weights (DDP
broadcasts rank 0's) and take the same number of steps stay bit-identical; a rank with one step more
than the others would wait for a partner forever, which is why :meth:`Ranks.shard` hands every rank a
slice of exactly equal length.

Two ways in. ``torchrun`` (one machine or many) starts the processes itself and sets ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`process_group` reads them
(``env://``). ``graphrec train --nproc N`` starts N local ranks with :func:`launch_local`, which sets
the same variables and spawns the processes with ``torch.multiprocessing``. Backend: gloo on the CPU,
NCCL when the ranks train on CUDA (one GPU per local rank).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from graphrec.model.config import resolve_device

RANK_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def world_size_from_env() -> int:
    """How many ranks the launcher (torchrun, or :func:`launch_local`) says there are; 1 when none did."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def threads_per_rank(local_ranks: int) -> int:
    """Intra-op threads for each of ``local_ranks`` ranks sharing this machine: its cores split evenly
    (ranks that each take every core fight over them, and all wait for the slowest in every all-reduce)."""
    return max(1, len(os.sched_getaffinity(0)) // max(local_ranks, 1))


class _Step(nn.Module):
    """Holds the model so DDP sees its parameters; ``forward(step)`` runs one batch's loss computation.

    Why a closure: the trainer's batch touches the model through several methods (the ego embeddings,
    sampled layer steps, the regulariser), not one ``forward``; DDP needs the whole computation under its
    forward call to prepare the gradient all-reduce for that backward."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, step: Callable[[], torch.Tensor]) -> torch.Tensor:
        return step()


@dataclass(frozen=True)
class Ranks:
    """This process's place among the ranks of an initialised process group."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0: the only one that writes checkpoints, artifacts and the version."""
        return self.rank == 0

    def shard(self, order: np.ndarray) -> np.ndarray:
        """This rank's slice of an epoch's edge order that every rank drew alike: disjoint slices of
        equal length (the last ``len(order) % world_size`` edges sit this epoch out), so every rank takes
        the same number of steps."""
        per_rank = len(order) // self.world_size
        return order[self.rank * per_rank : (self.rank + 1) * per_rank]

    def per_rank_batch(self, batch_size: int) -> int:
        """The global ``batch_size`` split across ranks (at least 1 each), so N ranks take the steps
        one process would, with the same effective batch and learning rate."""
        return max(1, batch_size // self.world_size)

    def wrap(self, model: nn.Module) -> Callable[[Callable[[], torch.Tensor]], torch.Tensor]:
        """A callable that runs a batch's loss computation under DDP (gradients averaged across ranks
        in its backward). ``find_unused_parameters`` stays off: ``GraphSAGERec`` creates only parameters
        every batch's loss uses (no feature projection without features, no maps with ``linear=False``),
        and the search would cost a walk of the autograd graph per step."""
        ids = [self.device.index if self.device.index is not None else self.local_rank]
        return DistributedDataParallel(
            _Step(model),
            device_ids=ids if self.device.type == "cuda" else None,
            find_unused_parameters=False,
        )

    def mean(self, value: float) -> float:
        """``value`` averaged over the ranks (e.g. the epoch's loss over every rank's batches)."""
        t = torch.tensor([value], dtype=torch.float64, device=self._comm_device)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def from_main(self, values: list[float]) -> list[float]:
        """Rank 0's ``values`` on every rank: decisions (early stopping, the best epoch) taken once and
        obeyed by all, so no rank stops while another waits for its next step."""
        t = torch.tensor(values, dtype=torch.float64, device=self._comm_device)
        dist.broadcast(t, src=0)
        return [float(v) for v in t.tolist()]

    def gather_all(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's copy of ``tensor`` (same shape on all), in rank order."""
        t = tensor.to(self._comm_device)
        out = [torch.empty_like(t) for _ in range(self.world_size)]
        dist.all_gather(out, t)
        return [o.cpu() for o in out]

    @property
    def _comm_device(self) -> torch.device:
        return self.device if self.device.type == "cuda" else torch.device("cpu")


@contextmanager
def process_group(device: Literal["auto", "cpu", "cuda"], *, timeout_s: float = 1800.0) -> Iterator[Ranks]:
    """Join the process group the launcher described in the environment (``env://``) and leave it at the end.

    CUDA ranks take GPU ``LOCAL_RANK`` and NCCL; CPU ranks gloo. ``timeout_s`` bounds how long a
    collective waits for a rank that died, so the others fail instead of hanging."""
    missing = [name for name in RANK_ENV[:2] + RANK_ENV[4:] if name not in os.environ]
    if missing:
        raise ValueError(
            f"distributed training needs {', '.join(missing)} in the environment (start it with torchrun "
            "or graphrec train --nproc N)"
        )
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"local rank {local_rank} has no GPU: this machine has {torch.cuda.device_count()}; start at "
                "most that many ranks per machine, or train on the CPU (--device cpu)"
            )
        torch.cuda.set_device(local_rank)
        resolved = torch.device("cuda", local_rank)
    dist.init_process_group(
        "nccl" if resolved.type == "cuda" else "gloo", init_method="env://", timeout=timedelta(seconds=timeout_s)
    )
    try:
        yield Ranks(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank, device=resolved)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    """A TCP port nothing listens on now, for rank 0's rendezvous on this machine."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _local_rank(local_rank: int, nproc: int, port: int, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
    """A spawned rank's entry: the environment torchrun would have set, then ``fn(*args)``."""
    os.environ.update(
        RANK=str(local_rank),
        LOCAL_RANK=str(local_rank),
        WORLD_SIZE=str(nproc),
        LOCAL_WORLD_SIZE=str(nproc),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    fn(*args)


def launch_local(
    nproc: int, fn: Callable[..., object], args: tuple[Any, ...], *, timeout_s: float | None = None
) -> None:
    """Run ``fn(*args)`` in ``nproc`` spawned processes, ranks 0..nproc-1 of one process group on this machine.

    ``fn`` must be importable by name (spawned processes import it). A rank that raises fails the whole
    launch with its traceback (``torch.multiprocessing.ProcessRaisedException``) and the other ranks are
    terminated; past ``timeout_s`` (None: no deadline) every rank is terminated and ``TimeoutError`` raised."""
    from torch.multiprocessing.spawn import start_processes

    if nproc < 1:
        raise ValueError(f"nproc must be at least 1, got {nproc}")
    context = start_processes(  # type: ignore[no-untyped-call]  # torch leaves it unannotated
        _local_rank, args=(nproc, free_port(), fn, args), nprocs=nproc, join=False, start_method="spawn"
    )
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while not context.join(timeout=1.0):
        if deadline is not None and time.monotonic() > deadline:
            for p in context.processes:
                if p.is_alive():
                    p.terminate()
            for p in context.processes:
                p.join(10)
            raise TimeoutError(f"{nproc} local ranks did not finish within {timeout_s:.0f} s")
