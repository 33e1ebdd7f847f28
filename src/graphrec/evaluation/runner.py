"""``graphrec evaluate``: every model on the same seeded split, full ranking, one results table.

Datasets: ``movielens:PATH`` (``u.data``), ``lightgcn:TRAIN_TXT,TEST_TXT`` (a given split) or
``store`` (a snapshot exported from the graph store). Each model is fitted on the training edges
only; ranking covers the whole catalogue minus the user's training items.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from graphrec.evaluation.baselines import ImplicitALS, ItemKNN, MostPopular, TraversalRecommender
from graphrec.evaluation.datasets import load_lightgcn, load_movielens
from graphrec.evaluation.metrics import ranking_metrics, top_k
from graphrec.evaluation.protocol import Recommender
from graphrec.evaluation.report import markdown_table, write_report
from graphrec.evaluation.splits import Split, random_holdout, temporal_holdout
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.recommender import GraphSAGERecommender
from graphrec.snapshot import Snapshot

logger = logging.getLogger(__name__)

ModelName = Literal["MostPopular", "ItemKNN", "Traversal", "ALS", "MF-BPR", "GraphSAGE"]
ALL_MODELS: tuple[ModelName, ...] = ("MostPopular", "ItemKNN", "Traversal", "ALS", "MF-BPR", "GraphSAGE")


class EvalConfig(BaseModel):
    """What ``graphrec evaluate`` runs; every field can come from a TOML/YAML file."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = "store"
    protocol: Literal["random", "temporal"] = "random"
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 0
    ks: list[int] = Field(default_factory=lambda: [20, 10])
    models: list[ModelName] = Field(default_factory=lambda: list(ALL_MODELS))
    graphsage: TrainConfig = Field(default_factory=TrainConfig)
    item_knn_neighbours: int = 100
    als_factors: int = 64
    traversal_half_life_days: float | None = Field(
        None, description="seed decay of the traversal baseline (None: the snapshot's weights as they are)")
    progress: bool = True


def load_split(cfg: EvalConfig, *, snapshot: Snapshot | None = None) -> Split:
    """The split named by ``cfg.dataset`` (``snapshot`` is used for ``store``)."""
    kind, _, arg = cfg.dataset.partition(":")
    if kind == "lightgcn":
        train_txt, _, test_txt = arg.partition(",")
        return load_lightgcn(train_txt, test_txt)
    if kind == "movielens":
        full = load_movielens(arg)
    elif kind == "store":
        if snapshot is None:
            raise ValueError("dataset 'store' needs a snapshot exported from the graph store")
        full = snapshot
    else:
        raise ValueError(f"unknown dataset {cfg.dataset!r}: movielens:PATH | lightgcn:TRAIN,TEST | store")
    holdout = random_holdout if cfg.protocol == "random" else temporal_holdout
    return holdout(full, test_fraction=cfg.test_fraction, seed=cfg.seed)


def build_models(cfg: EvalConfig) -> list[Recommender]:
    """Instantiate the configured models (GraphSAGE and MF-BPR share the trainer; MF has 0 layers)."""
    made: dict[str, Recommender] = {
        "MostPopular": MostPopular(),
        "ItemKNN": ItemKNN(neighbours=cfg.item_knn_neighbours),
        "Traversal": TraversalRecommender(half_life_days=cfg.traversal_half_life_days),
        "ALS": ImplicitALS(factors=cfg.als_factors, seed=cfg.seed),
    }
    sage = cfg.graphsage.model_copy(update={"seed": cfg.seed})
    mf_encoder = EncoderConfig(**{**sage.encoder.model_dump(), "layers": 0, "use_features": False})
    made["MF-BPR"] = GraphSAGERecommender(sage.model_copy(update={"encoder": mf_encoder}), name="MF-BPR",
                                          progress=cfg.progress)
    made["GraphSAGE"] = GraphSAGERecommender(sage, progress=cfg.progress)
    return [made[name] for name in cfg.models]


def evaluate_model(model: Recommender, split: Split, ks: list[int], *, batch: int = 1024) -> dict[str, Any]:
    """Fit on ``split.train``, rank all items for every test user, return the metrics row."""
    train = split.train
    t0 = time.perf_counter()
    model.fit(train)
    fit_seconds = time.perf_counter() - t0
    exclude = train.matrix("ones")
    users = np.flatnonzero(np.diff(split.test.indptr) > 0)
    k_max = max(ks)
    tops = []
    for start in range(0, len(users), batch):
        b = users[start:start + batch]
        tops.append(top_k(np.array(model.score(b), dtype=np.float32), k_max, exclude=exclude[b]))
    topk = np.concatenate(tops) if tops else np.zeros((0, k_max), np.int64)
    popularity = np.bincount(train.indices, minlength=train.n_items)
    row: dict[str, Any] = {"model": model.name}
    for k in ks:
        row.update(ranking_metrics(topk, split.test[users], k=k, item_popularity=popularity,
                                   n_users_train=train.n_users))
    row["fit_seconds"] = round(fit_seconds, 2)
    return row


def run_evaluation(cfg: EvalConfig, output: Path, *, snapshot: Snapshot | None = None) -> list[dict[str, Any]]:
    """Run every model on one split, write ``results.json``/``results.md``/``validation.png``."""
    split = load_split(cfg, snapshot=snapshot)
    rows: list[dict[str, Any]] = []
    histories: dict[str, list[dict[str, float]]] = {}
    models = build_models(cfg)
    for model in tqdm(models, desc="models", disable=None if cfg.progress else True):
        rows.append(evaluate_model(model, split, cfg.ks))
        if isinstance(model, GraphSAGERecommender) and model.result is not None:
            histories[model.name] = model.result.history
            rows[-1]["best_epoch"] = model.result.best_epoch
            rows[-1]["s_per_epoch"] = round(model.result.seconds_per_epoch, 3)
        logger.info("%s", rows[-1])
    meta = {
        "dataset": cfg.dataset, "protocol": split.protocol, "seed": cfg.seed,
        "n_users": split.train.n_users, "n_items": split.train.n_items,
        "n_train": split.train.n_edges, "n_test": int(split.test.nnz), "config": cfg.model_dump(),
    }
    write_report(rows, output, meta=meta, histories=histories, metric=f"recall@{cfg.graphsage.metric_k}")
    return rows


__all__ = ["EvalConfig", "build_models", "evaluate_model", "load_split", "markdown_table", "run_evaluation"]
