"""``graphrec evaluate``: every model on the same seeded split, full ranking, one results table.

Datasets: ``movielens:PATH`` (``u.data``), ``lightgcn:TRAIN_TXT,TEST_TXT`` (a given split) or
``store`` (a snapshot exported from the graph store). Each model is fitted on the training edges
only; ranking covers the whole catalogue minus the user's training items.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from tqdm.auto import tqdm

from graphrec.evaluation.baselines import ImplicitALS, ItemKNN, MostPopular, TraversalRecommender
from graphrec.evaluation.baselines.gds_fastrp import GdsFastRPKnn
from graphrec.evaluation.datasets import load_lightgcn, load_movielens
from graphrec.evaluation.metrics import ranking_metrics, top_k
from graphrec.evaluation.protocol import Recommender
from graphrec.evaluation.report import markdown_table, write_report
from graphrec.evaluation.splits import Split, random_holdout, temporal_holdout
from graphrec.graph.neo4j_gds import FastRPConfig, GdsClient
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.recommender import GraphSAGERecommender
from graphrec.progress import StepProgress, resolve
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
    tune_baselines: bool = Field(True, description="pick ItemKNN/ALS/MF-BPR hyperparameters on a validation "
                                 "holdout of the training edges (as GraphSAGE early-stops on one)")
    validation_fraction: float = Field(0.1, gt=0, lt=1)
    gds: bool = Field(True, description="add the GDS-FastRP-kNN row when the store is Neo4j with Graph Data Science")
    gds_fastrp_dim: int = Field(128, ge=8, le=1024, description="FastRP embedding width of that row")
    gds_neighbours: int = Field(100, ge=1, le=1000, description="kNN neighbours per item of that row")
    traversal_half_life_days: float | None = Field(
        None, description="seed decay of the traversal baseline (None: the snapshot's weights as they are)")
    progress: bool | Literal["auto", "bar", "lines", "off"] = Field(
        True, description="a bar on a terminal and one line per model (and per GraphSAGE evaluation) "
        "otherwise; false = quiet")


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


def _graphsage(cfg: EvalConfig, *, mf: bool = False, **train: Any) -> GraphSAGERecommender:
    sage = cfg.graphsage.model_copy(update={"seed": cfg.seed, **train})
    if not mf:
        return GraphSAGERecommender(sage, progress=cfg.progress)
    encoder = EncoderConfig(**{**sage.encoder.model_dump(), "layers": 0, "use_features": False})
    return GraphSAGERecommender(sage.model_copy(update={"encoder": encoder}), name="MF-BPR",
                                progress=cfg.progress)


def baseline_grids(cfg: EvalConfig) -> dict[str, tuple[Callable[..., Recommender], list[dict[str, Any]]]]:
    """Per tunable baseline: a factory and the hyperparameter grid searched on validation."""
    return {
        "ItemKNN": (lambda **kw: ItemKNN(**kw), [{"neighbours": k} for k in (20, 50, 100, 200, 400)]),
        "ALS": (lambda **kw: ImplicitALS(seed=cfg.seed, **kw),
                [{"factors": f, "regularization": r, "alpha": a}
                 for f in (32, 64, 128) for r in (0.01, 0.1, 1.0) for a in (1.0, 2.0, 5.0)]),
        "MF-BPR": (lambda **kw: _graphsage(cfg, mf=True, **kw), [{"reg": r} for r in (1e-4, 1e-3, 1e-2)]),
    }


def build_models(cfg: EvalConfig, *, gds: GdsClient | None = None) -> list[Recommender]:
    """Instantiate the configured models with fixed hyperparameters (GraphSAGE and MF-BPR share the
    trainer; MF-BPR is the same model with 0 layers); with ``gds``, the GDS-FastRP-kNN row too."""
    made: dict[str, Recommender] = {
        "MostPopular": MostPopular(),
        "ItemKNN": ItemKNN(neighbours=cfg.item_knn_neighbours),
        "Traversal": TraversalRecommender(half_life_days=cfg.traversal_half_life_days),
        "ALS": ImplicitALS(factors=cfg.als_factors, seed=cfg.seed),
        "MF-BPR": _graphsage(cfg, mf=True),
        "GraphSAGE": _graphsage(cfg),
    }
    models = [made[name] for name in cfg.models]
    if gds is not None and cfg.gds:
        models.append(GdsFastRPKnn(gds, FastRPConfig(dim=cfg.gds_fastrp_dim, neighbours=cfg.gds_neighbours,
                                                     seed=42 + cfg.seed)))
    return models


def tune(name: str, cfg: EvalConfig, split: Split) -> tuple[Recommender, dict[str, Any]]:
    """Grid-search ``name`` on a validation holdout of ``split.train`` (never on the test edges)."""
    factory, grid = baseline_grids(cfg)[name]
    validation = random_holdout(split.train, test_fraction=cfg.validation_fraction, seed=cfg.seed + 1)
    key = f"recall@{max(cfg.ks)}"
    scored = []
    for params in tqdm(grid, desc=f"tune {name}", disable=True if resolve(cfg.progress) == "off" else None,
                       leave=False):
        model = factory(**params)
        if isinstance(model, GraphSAGERecommender):
            model.progress = False
        scored.append((evaluate_model(model, validation, [max(cfg.ks)])[key], params))
    best_score, best = max(scored, key=lambda x: x[0])
    logger.info("tuned %s on validation: %s (%s=%.4f)", name, best, key, best_score)
    return factory(**best), {"params": best, f"validation_{key}": round(best_score, 4)}


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


def run_evaluation(cfg: EvalConfig, output: Path, *, snapshot: Snapshot | None = None,
                   gds: GdsClient | None = None) -> list[dict[str, Any]]:
    """Run every model on one split, write ``results.json``/``results.md``/``validation.png``.

    ``gds``: a Neo4j with Graph Data Science, for the GDS-FastRP-kNN row (computed inside Neo4j on
    the same training edges; nothing is written to the database)."""
    split = load_split(cfg, snapshot=snapshot)
    rows: list[dict[str, Any]] = []
    histories: dict[str, list[dict[str, float]]] = {}
    models = build_models(cfg, gds=gds)
    report = StepProgress(len(models), cfg.progress, desc="model")
    for model in models:
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        if cfg.tune_baselines and model.name in baseline_grids(cfg):
            model, extra = tune(model.name, cfg, split)
        rows.append(evaluate_model(model, split, cfg.ks))
        rows[-1].update(extra)
        if isinstance(model, GraphSAGERecommender) and model.result is not None:
            histories[model.name] = model.result.history
            rows[-1]["best_epoch"] = model.result.best_epoch
            rows[-1]["s_per_epoch"] = round(model.result.seconds_per_epoch, 3)
        logger.info("%s", rows[-1])
        k = cfg.graphsage.metric_k
        report.done(model.name, f"recall@{k} {rows[-1].get(f'recall@{k}', float('nan')):.4f}  "
                                f"ndcg@{k} {rows[-1].get(f'ndcg@{k}', float('nan')):.4f}",
                    time.perf_counter() - started)
    report.close()
    meta = {
        "dataset": cfg.dataset, "protocol": split.protocol, "seed": cfg.seed,
        "n_users": split.train.n_users, "n_items": split.train.n_items,
        "n_train": split.train.n_edges, "n_test": int(split.test.nnz), "config": cfg.model_dump(),
    }
    write_report(rows, output, meta=meta, histories=histories, metric=f"recall@{cfg.graphsage.metric_k}")
    return rows


__all__ = ["EvalConfig", "build_models", "evaluate_model", "load_split", "markdown_table", "run_evaluation", "tune"]
