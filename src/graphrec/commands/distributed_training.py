"""``graphrec train --nproc N`` and ``graphrec train`` under ``torchrun``: data-parallel training, rank 0 writes.

Why its own module: the CLI command stays a thin parser, and the rank's life (read the snapshot, join
the group, train in lockstep, leave) is the same whether this process spawned the ranks or torchrun did.
Every rank reads the same saved snapshot: a store export per rank could differ (events arrive between
them) and the ranks would train different graphs.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from graphrec.config import Settings
from graphrec.data.errors import UserError

if TYPE_CHECKING:  # torch loads with the pipeline: only when a command trains
    from graphrec.model.pipeline import PipelineConfig


def train_distributed(
    cfg: PipelineConfig,
    *,
    nproc: int,
    snapshot_dir: Path | None,
    version: str | None,
    quiet: bool,
    checkpoint_dir: Path | None,
    settings: Settings,
) -> Path | None:
    """Train data-parallel; the version directory rank 0 wrote, or None on a rank of torchrun's other than 0.

    Under torchrun (``WORLD_SIZE`` > 1 in the environment) this process is one rank; otherwise it
    spawns ``nproc`` local ranks (exporting the store to a temporary snapshot first when no
    ``snapshot_dir`` is given) and waits for them. A failing rank is one line naming it and its error."""
    from torch.multiprocessing.spawn import ProcessRaisedException

    from graphrec.model.distributed import world_size_from_env

    if checkpoint_dir is not None:
        raise UserError("--checkpoint-dir is not supported with distributed training (--nproc or torchrun) yet")
    if world_size_from_env() > 1:
        if nproc != 1:
            raise UserError("--nproc must be left out under torchrun: torchrun already started the ranks")
        if snapshot_dir is None:
            raise UserError(
                "--snapshot is required under torchrun: every rank must read the same saved snapshot "
                "(write one with graphrec export, on storage every machine sees)"
            )
        return run_rank(cfg, str(snapshot_dir), version, quiet)
    _check_gpus(cfg, nproc)
    from graphrec.model.distributed import launch_local
    from graphrec.model.pipeline import new_version_name
    from graphrec.snapshot import Snapshot

    with tempfile.TemporaryDirectory(prefix="graphrec-ddp-") as tmp:
        if snapshot_dir is None:
            from graphrec.export import export_snapshot
            from graphrec.graph.factory import open_store

            with open_store(settings) as store:
                snapshot = export_snapshot(
                    store, cfg.export, half_life_days=settings.half_life_days, progress=not quiet
                )
            snapshot_dir = Path(tmp) / "snapshot"
            snapshot.save(snapshot_dir)
        version = version or new_version_name(Snapshot.load(snapshot_dir).manifest.get("content_hash"))
        try:
            launch_local(nproc, run_rank, (cfg, str(snapshot_dir), version, quiet, nproc))
        except ProcessRaisedException as exc:
            raise UserError(f"training rank {exc.error_index} of {nproc} failed: {_raised(str(exc))}") from None
    return settings.models_path / version


def run_rank(
    cfg: PipelineConfig, snapshot_dir: str, version: str | None, quiet: bool, local_ranks: int = 0
) -> Path | None:
    """One rank's whole run: rank 0 trains and writes the version (its path returned), the others train
    in lockstep and return None. ``local_ranks``: ranks on this machine, for the threads each may use
    (0: torchrun's ``LOCAL_WORLD_SIZE``)."""
    import os

    from graphrec.model.distributed import process_group, threads_per_rank
    from graphrec.model.pipeline import train, train_other_rank
    from graphrec.offline.new_user_tuner import NewUserBlendTuner
    from graphrec.recommend.serving_config import ServingConfig
    from graphrec.snapshot import Snapshot

    if cfg.train.threads == "auto":  # the machine's cores split among its ranks
        local = local_ranks or int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"threads": threads_per_rank(local)})})
    snapshot = Snapshot.load(Path(snapshot_dir))
    settings = Settings()
    with process_group(cfg.train.device) as ranks:
        if not ranks.is_main:
            train_other_rank(cfg, snapshot, ranks)
            return None
        return train(
            cfg,
            models_path=settings.models_path,
            half_life_days=settings.half_life_days,
            snapshot=snapshot,
            version=version,
            progress=not quiet,
            new_users=NewUserBlendTuner(ServingConfig.from_settings(settings), progress=not quiet),
            ranks=ranks,
        )


def _raised(traceback: str) -> str:
    """The exception's own line from a rank's formatted traceback (the first line after the stack)."""
    lines = [line for line in traceback.splitlines() if line.strip()]
    frames = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    after = lines[frames[-1] + 1 :] if frames else lines
    return next((line.strip() for line in after if not line.startswith(" ")), "no message")


def _check_gpus(cfg: PipelineConfig, nproc: int) -> None:
    """Refuse before spawning anything: CUDA ranks need one GPU each on this machine."""
    import torch

    from graphrec.model.config import resolve_device

    if resolve_device(cfg.train.device).type == "cuda" and nproc > torch.cuda.device_count():
        raise UserError(
            f"--nproc {nproc} with device cuda needs {nproc} GPUs, this machine has {torch.cuda.device_count()} "
            "(one GPU per rank; --device cpu trains on the CPU)"
        )
