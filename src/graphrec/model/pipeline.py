"""Pure functions behind ``graphrec train`` and ``graphrec publish`` (the CLI only parses arguments).

``train`` exports a snapshot from the store (or takes one), fits GraphSAGE, tunes the blend weight on
the same snapshot (``blend.json``; given a ``NewUserTuner``, also the weights for users the version will
not know, by history length) and writes a new version directory under ``models_path``;
``publish`` copies a version's embeddings onto the graph nodes and records it as current.

Why tuning happens here: it needs a snapshot, which training has in hand and serving does not; an
API that exported and tuned while loading a model did offline work on the request-serving process.

The current version has one source of truth: the store's meta record (``model_version``), which
every API replica reads (:func:`published_version`), so replicas on different hosts agree. The
``CURRENT`` file in ``models_path`` is a local cache of it, written by ``publish`` too; the API
falls back to it only while the store cannot be asked.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from graphrec.data.config_files import in_file, read_toml, validate_config
from graphrec.data.errors import UserError
from graphrec.evaluation.splits import Split, holdout
from graphrec.export import ExportConfig, export_snapshot
from graphrec.graph.port import GraphStore
from graphrec.model.artifact import ModelArtifact
from graphrec.model.blend_tuning import (
    BlendParams,
    NewUserTuner,
    NewUserTuning,
    ensure_blend,
    load_blend,
    save_blend,
)
from graphrec.model.config import TrainConfig
from graphrec.model.distributed import Ranks
from graphrec.model.gate import holdout_metrics, save_holdout
from graphrec.model.item_neighbours import ItemNeighbours
from graphrec.model.trainer import Trainer
from graphrec.progress import Mode
from graphrec.snapshot import Snapshot

logger = logging.getLogger(__name__)

CURRENT = "CURRENT"
META_KEY = "model_version"
TEST_PROTOCOL: Literal["temporal"] = "temporal"
"""How a version's test edges are cut: each user's newest interactions, as serving meets the future.
Early stopping validates the same way (the epoch count that wins on random edges is not the one that
wins on the newest ones), so the trainer's ``validation_protocol`` is always this one."""


class PipelineConfig(BaseModel):
    """A training run: what to export and how to train (``training/configs/*.toml``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = "graphsage"
    holdout_fraction: float = Field(
        0.1,
        ge=0,
        lt=1,
        description="each user's newest share of interactions "
        "kept out of training: the version's test metrics and what `graphrec compare` "
        "and `publish --if-better` judge it on (0: train on everything, no gate)",
    )
    export: ExportConfig = Field(default_factory=ExportConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    new_users: NewUserTuning = Field(default_factory=NewUserTuning)

    @field_validator("train")
    @classmethod
    def _validation_as_test(cls, train: TrainConfig) -> TrainConfig:
        """Refuse a config that asks early stopping to validate other than the version is tested."""
        if "validation_protocol" in train.model_fields_set and train.validation_protocol != TEST_PROTOCOL:
            raise ValueError(
                f"validation_protocol must be {TEST_PROTOCOL!r} (or left out): graphrec train tests a version on "
                "each user's newest interactions, and the epoch count is chosen on the same kind of split"
            )
        return train


def load_config(path: Path | None) -> PipelineConfig:
    """Read and validate a TOML config; ``None`` gives the defaults. A missing or malformed file or a
    wrong field is a :class:`~graphrec.data.errors.UserError` naming the file and the field."""
    if path is None:
        return PipelineConfig()
    raw = read_toml(path)
    raw.pop("evaluation", None)  # the same file may also configure `graphrec evaluate`
    return validate_config(PipelineConfig, raw, in_file(path))


def new_version_name(snapshot_hash: str | None) -> str:
    """Sortable and unique enough: UTC time to the second plus the snapshot hash prefix."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{(snapshot_hash or 'nohash')[:8]}"


def train(
    cfg: PipelineConfig,
    *,
    models_path: Path,
    half_life_days: float,
    store: GraphStore | None = None,
    snapshot: Snapshot | None = None,
    version: str | None = None,
    progress: Mode | bool = True,
    checkpoint_dir: Path | None = None,
    new_users: NewUserTuner | None = None,
    ranks: Ranks | None = None,
) -> Path:
    """Export (unless ``snapshot`` is given), train, tune the blend, and write a version directory;
    returns its path.

    ``ranks``: train data-parallel as rank 0 of these (the one that writes the version); every other
    rank runs :func:`train_other_rank` on the same snapshot at the same time.

    ``checkpoint_dir``: resumable training (see :class:`graphrec.model.trainer.Trainer`); a resumed run
    must see the same snapshot, so resume long runs from a saved one (``graphrec export``).
    ``new_users``: tunes the blend of users the version will not know, by history length
    (``cfg.new_users``; :class:`graphrec.offline.new_user_tuner.NewUserBlendTuner`), into ``blend.json``;
    without it a new user is blended like everyone else."""
    if snapshot is None:
        if store is None:
            raise ValueError("train needs a store or a snapshot")
        snapshot = export_snapshot(store, cfg.export, half_life_days=half_life_days, progress=progress is not False)
    if ranks is not None and not ranks.is_main:
        raise ValueError(f"rank {ranks.rank} must not write a version: only rank 0 trains through train()")
    started = time.perf_counter()
    cfg, split, fit_on = _training_split(cfg, snapshot)
    result = Trainer(cfg.train, progress=progress, checkpoint_dir=checkpoint_dir, ranks=ranks).fit(fit_on)
    version = version or new_version_name(snapshot.manifest.get("content_hash"))
    k = cfg.train.metric_k
    metrics = {
        f"validation_recall@{k}": result.best_metric,
        "best_epoch": result.best_epoch,
        "train_seconds": round(time.perf_counter() - started, 2),
        "seconds_per_epoch": round(result.seconds_per_epoch, 4),
        "mode": result.mode,
        "n_users": snapshot.n_users,
        "n_items": snapshot.n_items,
        "n_edges": fit_on.n_edges,
    }
    artifact = ModelArtifact.from_training(result, fit_on, version=version, config=cfg.train, metrics=metrics)
    if split is not None:
        artifact.metrics.update(holdout_metrics(artifact, split, k=k), holdout_edges=int(split.test.nnz))
    out = artifact.save(models_path / version)
    if split is not None:
        save_holdout(out, snapshot, split)
    (out / "pipeline.json").write_text(cfg.model_dump_json(indent=2))
    params = tune_version_blend(out, artifact, fit_on, half_life_days=half_life_days)
    if params is not None and new_users is not None and cfg.new_users.enabled:
        tune_new_user_blend(out, params, new_users, fit_on, cfg, epochs=max(result.best_epoch, 1))
    logger.info("wrote model version %s", out)
    return out


def train_other_rank(cfg: PipelineConfig, snapshot: Snapshot, ranks: Ranks) -> None:
    """A rank other than 0 of a data-parallel :func:`train`: the same holdout and the same training steps
    in lockstep with rank 0 (its share of every epoch), nothing written."""
    cfg, _, fit_on = _training_split(cfg, snapshot)
    Trainer(cfg.train, progress=False, ranks=ranks).fit(fit_on)


def _training_split(cfg: PipelineConfig, snapshot: Snapshot) -> tuple[PipelineConfig, Split | None, Snapshot]:
    """``(cfg validating as the version is tested, the test holdout or None, the snapshot to fit on)``:
    one function, so every rank of a data-parallel run fits on exactly the same edges."""
    if snapshot.n_edges == 0:
        raise UserError("the snapshot has no interactions: import data first (graphrec import/generate)")
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"validation_protocol": TEST_PROTOCOL})})
    # each user's newest interactions held out: the version's test metrics, and what a later
    # `graphrec compare` / `publish --if-better` judges it and the served version on
    split = (
        holdout(TEST_PROTOCOL)(snapshot, test_fraction=cfg.holdout_fraction, seed=cfg.train.seed)
        if cfg.holdout_fraction > 0
        else None
    )
    if split is not None and split.test.nnz == 0:
        split = None  # every user has a single interaction: nothing to hold out
    return cfg, split, (split.train if split is not None else snapshot)


def tune_new_user_blend(
    directory: Path, params: BlendParams, tuner: NewUserTuner, snapshot: Snapshot, cfg: PipelineConfig, *, epochs: int
) -> BlendParams:
    """Add the new-user weights to the version's ``blend.json`` and its item-neighbour table
    (``item_neighbours.npz``) to the directory. Data too thin for the protocol (no user
    with enough interactions) leaves new users on the version's alpha, which the log says."""
    try:
        tuned = tuner(snapshot, cfg.train, cfg.new_users, epochs=epochs)
    except ValueError as exc:
        logger.warning(
            "new-user blend of %s not tuned (%s): new users get alpha %.2f", directory.name, exc, params.alpha
        )
        return params
    if tuned.neighbours:  # the table the gammas were tuned with, fitted on the version's own edges
        ItemNeighbours.fit(
            snapshot, neighbours=int(tuned.neighbours["neighbours"]), shrink=float(tuned.neighbours["shrink"])
        ).save(directory)
    params = replace(params, new_users=tuned.weights, new_user_details=tuned.details)
    save_blend(directory, params)
    logger.info(
        "tuned new-user blend for %s: %s",
        directory.name,
        "; ".join(f"n={n}: {w.describe()}" for n, w in sorted(tuned.weights.items())),
    )
    return params


def tune_version_blend(
    directory: Path, artifact: ModelArtifact, snapshot: Snapshot | Callable[[], Snapshot], *, half_life_days: float
) -> BlendParams | None:
    """Write the version's ``blend.json`` (kept if it exists). A snapshot too small for a validation
    split leaves the version on the default alpha, which the log says (training itself succeeded)."""
    try:
        return ensure_blend(directory, artifact, snapshot, half_life_days=half_life_days)
    except ValueError as exc:
        logger.warning("blend of %s not tuned (%s): it will be served with the default alpha", directory.name, exc)
        return None


def list_versions(models_path: Path) -> list[str]:
    """Version directories (those with a manifest), oldest first by creation time."""
    if not models_path.exists():
        return []
    found = []
    for d in models_path.iterdir():
        manifest = d / "manifest.json"
        if d.is_dir() and manifest.exists():
            found.append((json.loads(manifest.read_text()).get("created_ms", 0), d.name))
    return [name for _, name in sorted(found)]


def resolve_version(models_path: Path, version: str) -> str:
    """``latest`` -> newest version directory; otherwise the name, which must exist."""
    if version == "latest":
        versions = list_versions(models_path)
        if not versions:
            raise UserError(f"no model versions under {models_path}: run `graphrec train` first")
        return versions[-1]
    if not (models_path / version / "manifest.json").exists():
        raise UserError(f"model version {version!r} not found under {models_path} (graphrec runs lists them)")
    return version


def published_version(store: GraphStore) -> str | None:
    """The version ``publish`` last recorded in the store: the one every API replica serves."""
    return store.get_meta(key=META_KEY)


def current_version(models_path: Path) -> str | None:
    """The version the local ``CURRENT`` pointer names, if any (a cache of :func:`published_version`)."""
    pointer = models_path / CURRENT
    return pointer.read_text().strip() or None if pointer.exists() else None


def write_current(models_path: Path, version: str) -> None:
    """Point ``CURRENT`` at ``version`` atomically (write a temp file, then ``os.replace``)."""
    tmp = models_path / f".{CURRENT}.{os.getpid()}.tmp"
    tmp.write_text(version + "\n")
    os.replace(tmp, models_path / CURRENT)


def publish(store: GraphStore, *, models_path: Path, version: str, half_life_days: float) -> tuple[str, int, int]:
    """Write a version's embeddings to the graph and make it current; returns (version, users, items).

    A version trained before training tuned the blend gets its ``blend.json`` here first (exported
    with the version's own export config), so the API never has to tune.
    """
    name = resolve_version(models_path, version)
    directory = models_path / name
    artifact = ModelArtifact.load(directory)
    if load_blend(directory) is None:
        export = _export_config(directory)
        tune_version_blend(
            directory,
            artifact,
            lambda: export_snapshot(store, export, half_life_days=half_life_days, progress=False),
            half_life_days=half_life_days,
        )
    items = store.write_embeddings(
        label="Item", ids=artifact.item_ids.tolist(), vectors=artifact.item_embeddings, model_version=name
    )
    known = artifact.user_ids != ""  # erased users' rows are blanked (graphrec.model.erasure)
    users = store.write_embeddings(
        label="User", ids=artifact.user_ids[known].tolist(), vectors=artifact.user_embeddings[known], model_version=name
    )
    store.set_meta(key=META_KEY, value=name)
    write_current(models_path, name)
    return name, users, items


def _export_config(directory: Path) -> ExportConfig:
    """The export config a version was trained with (``pipeline.json``), else the defaults."""
    path = directory / "pipeline.json"
    if not path.exists():
        return ExportConfig()
    return PipelineConfig.model_validate_json(path.read_text()).export
