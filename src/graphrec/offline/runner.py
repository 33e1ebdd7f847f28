"""``graphrec evaluate``: every model on the same seeded split, full ranking, one results table.

Datasets: ``movielens:PATH`` (``u.data``), ``events:FILE`` (an events file as ``graphrec import --format
events`` reads it, e.g. ``graphrec generate``'s), ``lightgcn:TRAIN_TXT,TEST_TXT`` (a given split) or
``store`` (a snapshot exported from the graph store). ``--protocol new-users`` holds out whole users
instead and serves them through the API's code (:mod:`graphrec.offline.new_user_protocol`); ``--protocol
cold-items`` holds out whole items and ranks them from their content (:mod:`graphrec.offline.cold_items`). Each model is
fitted on the training edges only; ranking covers the whole catalogue minus the user's training
items. Hyperparameters are tuned and GraphSAGE early-stops on a validation holdout of the training
edges cut by the same protocol as the test split. With several ``seeds`` every model runs on each
seed's split; the table then shows means with 95% intervals. GraphSAGE (the served model) is tested
against every other model on Recall@k and NDCG@k, Holm-adjusted (:mod:`graphrec.evaluation.statistics`
says which test and why).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from graphrec.data.ratings import RatingMode
from graphrec.evaluation.baselines import EASE, ImplicitALS, ItemKNN, MostPopular, TraversalRecommender
from graphrec.evaluation.baselines.ease import CatalogueTooLarge
from graphrec.evaluation.baselines.gds_fastrp import GdsFastRPKnn
from graphrec.evaluation.datasets import load_events, load_lightgcn, load_movielens
from graphrec.evaluation.evaluated_model import EvaluatedModel
from graphrec.evaluation.metrics import ranking_metrics
from graphrec.evaluation.ranking import RankingTask
from graphrec.evaluation.report import markdown_table, write_report
from graphrec.evaluation.splits import Split, holdout
from graphrec.evaluation.statistics import PairedComparison, compare_against_all, comparison_table, mean_interval
from graphrec.graph.neo4j_gds import FastRPConfig, GdsClient
from graphrec.model.config import EncoderConfig, TrainConfig
from graphrec.model.recommender import GraphSAGERecommender
from graphrec.offline.cold_items import ColdItemProtocol, run_cold_items
from graphrec.offline.new_user_protocol import NewUserProtocol
from graphrec.offline.new_user_report import run_new_users
from graphrec.offline.tuning import Tunable, Validation, baseline_tunables, prepare_validation, search
from graphrec.progress import StepProgress
from graphrec.recommend.serving_config import ServingConfig
from graphrec.snapshot import Snapshot

logger = logging.getLogger(__name__)

ModelName = Literal["MostPopular", "ItemKNN", "Traversal", "ALS", "EASE", "MF-BPR", "GraphSAGE"]
ALL_MODELS: tuple[ModelName, ...] = ("MostPopular", "ItemKNN", "Traversal", "ALS", "EASE", "MF-BPR", "GraphSAGE")
SERVED: ModelName = "GraphSAGE"  # the model the paired tests put against every other one


class EvalConfig(BaseModel):
    """What ``graphrec evaluate`` runs; every field can come from a TOML/YAML file."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = "store"
    ratings: RatingMode = Field(
        "implicit",
        description="how movielens: ratings become interactions (graphrec.data.ratings): implicit | positive | signed",
    )
    protocol: Literal["random", "temporal", "new-users", "cold-items"] = Field(
        "random",
        description="random | temporal: per-user holdout of edges, every model; new-users: whole users "
        "held out and served from their first n interactions through the API's code "
        "(graphrec.offline.new_user_protocol); cold-items: whole items held out, ranked from their "
        "title and categories (graphrec.offline.cold_items)",
    )
    cold_items: ColdItemProtocol = Field(
        default_factory=ColdItemProtocol, description="the cold-items protocol's held-out share of the items"
    )
    content: bool | None = Field(
        None,
        description="give the data set's items their titles (and movielens: its genres) as content features; "
        "None: only for the cold-items protocol, so the edge-holdout tables stay comparable with earlier runs",
    )
    new_users: NewUserProtocol = Field(
        default_factory=NewUserProtocol,
        description="the new-users protocol's held-out users, history lengths and tuning",
    )
    test_fraction: float = Field(0.2, gt=0, lt=1)
    seed: int = 0
    seeds: list[int] | None = Field(
        None,
        min_length=1,
        description="run every model on each of these seeds' "
        "splits and report means and 95% intervals (overrides seed)",
    )
    ks: list[int] = Field(default_factory=lambda: [20, 10])
    models: list[ModelName] = Field(default_factory=lambda: list(ALL_MODELS))
    graphsage: TrainConfig = Field(default_factory=TrainConfig)
    item_knn_neighbours: int = 100
    item_knn_shrink: float = 10.0
    als_factors: int = 64
    ease_l2: float = 500.0
    ease_max_items: int = Field(
        20_000,
        ge=1,
        description="EASE's catalogue bound: its fit holds dense n_items x n_items float64 matrices "
        "(n_items² x 8 bytes each, ~3 at once: 9.6 GB at 20,000 items); above it the EASE row says skipped",
    )
    tune_baselines: bool = Field(
        True,
        description="pick ItemKNN/ALS/EASE/MF-BPR hyperparameters on a validation "
        "holdout of the training edges (as GraphSAGE early-stops on one)",
    )
    validation_fraction: float = Field(0.1, gt=0, lt=1)
    tune_users: int | None = Field(
        5_000,
        ge=100,
        description="validation users ranked per tuning point (a seeded sample above it; None: all); "
        "ML-100K's 943 are all ranked",
    )
    gds: bool = Field(True, description="add the GDS-FastRP-kNN row when the store is Neo4j with Graph Data Science")
    gds_fastrp_dim: int = Field(128, ge=8, le=1024, description="FastRP embedding width of that row")
    gds_neighbours: int = Field(100, ge=1, le=1000, description="kNN neighbours per item of that row")
    traversal_half_life_days: float | None = Field(
        None, description="seed decay of the traversal baseline (None: the snapshot's weights as they are)"
    )
    progress: bool | Literal["auto", "bar", "lines", "off"] = Field(
        True,
        description="a bar on a terminal and one line per model (and per GraphSAGE evaluation) "
        "otherwise; false = quiet",
    )


def load_dataset(cfg: EvalConfig, *, snapshot: Snapshot | None = None) -> Snapshot:
    """The whole data set named by ``cfg.dataset`` (``snapshot`` is used for ``store``); a given split
    (``lightgcn:``) has no whole to return."""
    kind, _, arg = cfg.dataset.partition(":")
    content = cfg.content if cfg.content is not None else cfg.protocol == "cold-items"
    if kind == "movielens":
        return load_movielens(arg, ratings=cfg.ratings, content=content)
    if kind == "events":
        return load_events(arg, titles=content)
    if kind == "store":
        if snapshot is None:
            raise ValueError("dataset 'store' needs a snapshot exported from the graph store")
        return snapshot
    if kind == "lightgcn":
        raise ValueError(
            "a lightgcn: data set is a given split without timestamps: it cannot hold users out by "
            "time (use movielens:, events: or store)"
        )
    raise ValueError(f"unknown dataset {cfg.dataset!r}: movielens:PATH | events:FILE | lightgcn:TRAIN,TEST | store")


def load_split(cfg: EvalConfig, *, snapshot: Snapshot | None = None) -> Split:
    """The split named by ``cfg.dataset`` (``snapshot`` is used for ``store``)."""
    kind, _, arg = cfg.dataset.partition(":")
    if kind == "lightgcn":
        train_txt, _, test_txt = arg.partition(",")
        return load_lightgcn(train_txt, test_txt)
    if cfg.protocol in ("new-users", "cold-items"):
        raise ValueError(
            f"the {cfg.protocol} protocol holds out whole users or items, not edges: run it with run_evaluation"
        )
    return holdout(cfg.protocol)(load_dataset(cfg, snapshot=snapshot), test_fraction=cfg.test_fraction, seed=cfg.seed)


def _graphsage(cfg: EvalConfig, *, mf: bool = False, **train: Any) -> GraphSAGERecommender:
    sage = cfg.graphsage.model_copy(update={"seed": cfg.seed, "validation_protocol": cfg.protocol, **train})
    if not mf:
        return GraphSAGERecommender(sage, progress=cfg.progress)
    # MF-BPR stays what its name says whatever GraphSAGE's loss: BPR, one negative per positive, dot products
    encoder = EncoderConfig(**{**sage.encoder.model_dump(), "layers": 0, "use_features": False, "normalize": False})
    bpr = {"encoder": encoder, "loss": "bpr", "negatives": 1}
    return GraphSAGERecommender(sage.model_copy(update=bpr), name="MF-BPR", progress=cfg.progress)


def baseline_grids(cfg: EvalConfig) -> dict[str, Tunable]:
    """Per tunable baseline: its factory and the grid searched on validation (:mod:`graphrec.offline.tuning`).
    MF-BPR's tuning runs are quiet; the winner's final fit reports progress as configured."""

    def quiet_mf_bpr(**kw: Any) -> EvaluatedModel:
        model = _graphsage(cfg, mf=True, **kw)
        model.progress = False
        return model

    return baseline_tunables(seed=cfg.seed, ease_max_items=cfg.ease_max_items, mf_bpr=quiet_mf_bpr)


def build_models(cfg: EvalConfig, *, gds: GdsClient | None = None) -> list[EvaluatedModel]:
    """Instantiate the configured models with fixed hyperparameters (GraphSAGE and MF-BPR share the
    trainer; MF-BPR is the same model with 0 layers); with ``gds``, the GDS-FastRP-kNN row too."""
    made: dict[str, EvaluatedModel] = {
        "MostPopular": MostPopular(),
        "ItemKNN": ItemKNN(neighbours=cfg.item_knn_neighbours, shrink=cfg.item_knn_shrink),
        "Traversal": TraversalRecommender(half_life_days=cfg.traversal_half_life_days),
        "ALS": ImplicitALS(factors=cfg.als_factors, seed=cfg.seed),
        "EASE": EASE(l2=cfg.ease_l2, max_items=cfg.ease_max_items),
        "MF-BPR": _graphsage(cfg, mf=True),
        "GraphSAGE": _graphsage(cfg),
    }
    models = [made[name] for name in cfg.models]
    if gds is not None and cfg.gds:
        models.append(
            GdsFastRPKnn(gds, FastRPConfig(dim=cfg.gds_fastrp_dim, neighbours=cfg.gds_neighbours, seed=42 + cfg.seed))
        )
    return models


def validation_for(cfg: EvalConfig, split: Split) -> Validation:
    """The validation holdout every baseline of this seed is tuned on (:func:`tune`), built once."""
    return prepare_validation(
        split, protocol=cfg.protocol, fraction=cfg.validation_fraction, seed=cfg.seed, most=cfg.tune_users
    )


def tune(
    name: str, cfg: EvalConfig, split: Split, *, validation: Validation | None = None
) -> tuple[EvaluatedModel, dict[str, Any]]:
    """Search ``name``'s grid on a validation holdout of ``split.train`` (never on the test edges), cut by
    the test split's protocol, ranking at most ``cfg.tune_users`` of its users per point (``validation``:
    that holdout, when the caller already built it with :func:`validation_for`)."""
    validation = validation or validation_for(cfg, split)
    k = max(cfg.ks)

    def score(model: EvaluatedModel, ranked: np.ndarray) -> float:
        task = validation.task if ranked is validation.users else None
        return float(rank_metrics(model, validation.split, [k], users=ranked, task=task)[f"recall@{k}"])

    model, extra = search(
        name,
        baseline_grids(cfg)[name],
        validation.split,
        validation.users,
        score,
        metric=f"recall@{k}",
        progress=cfg.progress,
    )
    if isinstance(model, GraphSAGERecommender):
        model.progress = cfg.progress
    if len(validation.users) < len(validation.split.test_users):
        extra["validation_users"] = len(validation.users)
    return model, extra


def evaluate_model(
    model: EvaluatedModel,
    split: Split,
    ks: list[int],
    *,
    task: RankingTask | None = None,
    per_user: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Fit on ``split.train``, rank all items for every test user, return the metrics row
    (``per_user`` receives per-user recall and NDCG at every k, test users in index order; ``task``:
    the test users' :class:`RankingTask`, when several models share it)."""
    t0 = time.perf_counter()
    model.fit(split.train)
    fit_seconds = time.perf_counter() - t0
    row = rank_metrics(model, split, ks, task=task, per_user=per_user)
    row["fit_seconds"] = round(fit_seconds, 2)
    return row


def rank_metrics(
    model: EvaluatedModel,
    split: Split,
    ks: list[int],
    *,
    users: np.ndarray | None = None,
    task: RankingTask | None = None,
    per_user: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The metrics row of a fitted ``model``: the whole catalogue minus each user's training items
    ranked for ``users`` (default: every test user) in chunked score blocks (:class:`RankingTask`;
    ``task``: one built for these users already, shared by every model and tuning point)."""
    train = split.train
    if task is None:
        task = RankingTask.of(train.matrix("ones"), split.test_users if users is None else users)
    elif users is not None and not np.array_equal(users, task.users):
        raise ValueError("users and task.users differ: give one of them")
    users = task.users
    topk = task.top_k(model, max(ks))
    popularity = np.bincount(train.indices, minlength=train.n_items)
    row: dict[str, Any] = {"model": model.name}
    for k in ks:
        row.update(
            ranking_metrics(
                topk, split.test[users], k=k, item_popularity=popularity, n_users_train=train.n_users, per_user=per_user
            )
        )
    return row


def run_evaluation(
    cfg: EvalConfig,
    output: Path,
    *,
    snapshot: Snapshot | None = None,
    gds: GdsClient | None = None,
    serving: ServingConfig | None = None,
) -> list[dict[str, Any]]:
    """Run every model on each seed's split, write ``results.json``/``results.md``/``validation.png``
    (every seed's learning curves) and ``per_user.npz`` (:func:`per_user_arrays`).

    One seed: the rows of that split. Several: one row per model with the mean of every metric over
    the seeds and the 95% half-width of the primary ones (``recall@20 ±``). Either way the report
    adds :func:`paired_tests`: GraphSAGE against every other model. ``gds``: a Neo4j with Graph Data Science, for the
    GDS-FastRP-kNN row (computed inside Neo4j on the same training edges; nothing is written).

    ``protocol = "new-users"`` runs :func:`graphrec.offline.new_user_report.run_new_users` instead, with
    ``serving``: the API's settings (``ServingConfig.from_settings``) its recommendations are computed with."""
    seeds = cfg.seeds or [cfg.seed]
    if cfg.protocol == "cold-items":
        return run_cold_items(
            load_dataset(cfg, snapshot=snapshot),
            cfg.cold_items,
            cfg.graphsage,
            seeds=seeds,
            ks=cfg.ks,
            output=output,
            dataset=cfg.dataset,
            progress=cfg.progress,
        )
    if cfg.protocol == "new-users":
        if serving is None:
            raise ValueError(
                "the new-users protocol serves through the API's code and needs its settings "
                "(serving=ServingConfig.from_settings(settings))"
            )
        return run_new_users(
            load_dataset(cfg, snapshot=snapshot),
            cfg.new_users,
            cfg.graphsage,
            seeds=seeds,
            serving=serving,
            output=output,
            dataset=cfg.dataset,
            progress=cfg.progress,
        )
    runs = [
        _run_seed(
            cfg.model_copy(update={"seed": seed, "seeds": None}),
            snapshot=snapshot,
            gds=gds,
            label="model" if len(seeds) == 1 else f"model (seed {seed})",
        )
        for seed in seeds
    ]
    last = runs[-1]
    meta: dict[str, Any] = {
        "dataset": cfg.dataset,
        "seed": seeds if len(seeds) > 1 else seeds[0],
        # one seed: the split's own name (random:0.2:0); several: the protocol they share
        "protocol": last.split.protocol if len(seeds) == 1 else f"{cfg.protocol}:{cfg.test_fraction}",
        "n_users": last.split.train.n_users,
        "n_items": last.split.train.n_items,
        "n_train": last.split.train.n_edges,
        "n_test": int(last.split.test.nnz),
        "config": cfg.model_dump(),
    }
    metric = f"recall@{cfg.graphsage.metric_k}"
    primary = [metric, f"ndcg@{cfg.graphsage.metric_k}"]
    if len(runs) == 1:
        rows = last.rows
    else:
        rows = summarise_seeds([run.rows for run in runs], primary=primary, seeds=seeds)
        meta["per_seed"] = {str(seed): run.rows for seed, run in zip(seeds, runs, strict=True)}
    tests = paired_tests(rows, runs, primary)
    if tests:
        meta["paired_tests"] = [t.as_dict() for t in tests]
        meta["paired_tests_table"] = comparison_table(tests)
    write_report(
        rows,
        output,
        meta=meta,
        histories=last.histories,
        metric=metric,
        seed_histories={str(seed): run.histories for seed, run in zip(seeds, runs, strict=True)}
        if len(runs) > 1
        else None,
        per_user=per_user_arrays(seeds, runs),
    )
    return rows


def per_user_arrays(seeds: list[int], runs: list[SeedRun]) -> dict[str, np.ndarray]:
    """Every seed's per-user metrics as ``per_user.npz`` keeps them: ``<seed>/users`` (the test users'
    ids, in the arrays' order) and ``<seed>/<model>/<metric>``, the input of
    :func:`graphrec.evaluation.statistics.compare_against_all`."""
    arrays: dict[str, np.ndarray] = {}
    for seed, run in zip(seeds, runs, strict=True):
        arrays[f"{seed}/users"] = np.asarray(run.split.train.user_ids[run.split.test_users]).astype(str)
        for name, metrics in run.per_user.items():
            arrays.update({f"{seed}/{name}/{metric}": values for metric, values in metrics.items()})
    return arrays


@dataclass
class SeedRun:
    """One seed's split, its rows and each model's per-user metrics (for paired tests; users in the
    order of ``split.test_users``)."""

    split: Split
    rows: list[dict[str, Any]]
    per_user: dict[str, dict[str, np.ndarray]]
    histories: dict[str, list[dict[str, float]]]


def _run_seed(cfg: EvalConfig, *, snapshot: Snapshot | None, gds: GdsClient | None, label: str) -> SeedRun:
    split = load_split(cfg, snapshot=snapshot)
    run = SeedRun(split=split, rows=[], per_user={}, histories={})
    models = build_models(cfg, gds=gds)
    report = StepProgress(len(models), cfg.progress, desc=label)
    task = RankingTask.of(split.train.matrix("ones"), split.test_users)  # shared by every model's ranking
    validation: Validation | None = None  # built for the first tuned model, shared by the others
    for model in models:
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        try:
            if cfg.tune_baselines and model.name in baseline_grids(cfg):
                validation = validation or validation_for(cfg, split)
                model, extra = tune(model.name, cfg, split, validation=validation)
            per_user: dict[str, np.ndarray] = {}
            row = evaluate_model(model, split, cfg.ks, task=task, per_user=per_user)
        except CatalogueTooLarge as exc:  # a model that cannot fit this data says so in the table
            logger.warning("%s skipped: %s", model.name, exc)
            run.rows.append({"model": model.name, "skipped": str(exc)})
            continue
        row.update(extra)
        run.rows.append(row)
        run.per_user[model.name] = per_user
        if isinstance(model, GraphSAGERecommender) and model.result is not None:
            run.histories[model.name] = model.result.history
            row["best_epoch"] = model.result.best_epoch
            row["s_per_epoch"] = round(model.result.seconds_per_epoch, 3)
        logger.info("%s", row)
        k = cfg.graphsage.metric_k
        report.done(
            model.name,
            f"recall@{k} {row.get(f'recall@{k}', float('nan')):.4f}  ndcg@{k} {row.get(f'ndcg@{k}', float('nan')):.4f}",
            time.perf_counter() - started,
        )
    report.close()
    return run


def summarise_seeds(
    per_seed: list[list[dict[str, Any]]], *, primary: list[str], seeds: list[int] | None = None
) -> list[dict[str, Any]]:
    """One row per model: the mean of every numeric column over the seeds it ran on, and the 95%
    half-width of the ``primary`` metrics as ``<metric> ±``; a tuned value that differs between seeds
    is shown per seed, named by its number in ``seeds`` (default: 0, 1, ...)."""
    names = list(dict.fromkeys(r["model"] for rows in per_seed for r in rows))
    numbers = seeds if seeds is not None else list(range(len(per_seed)))
    summary = []
    for name in names:
        ran = [(s, r) for s, rows in zip(numbers, per_seed, strict=True) for r in rows if r["model"] == name]
        ran = [(s, r) for s, r in ran if "skipped" not in r]
        runs = [r for _, r in ran]
        if not runs:
            summary.append(
                {"model": name, "skipped": next(r["skipped"] for rows in per_seed for r in rows if r["model"] == name)}
            )
            continue
        row: dict[str, Any] = {"model": name}
        for key in primary:
            mean, half = mean_interval([r[key] for r in runs])
            row[key], row[f"{key} ±"] = mean, half
        for key, value in runs[0].items():
            if key not in row and isinstance(value, int | float) and not isinstance(value, bool):
                row[key] = float(np.mean([r[key] for r in runs if key in r]))
        for key in ("params", "grid_edge"):  # which point each seed's tuning chose, and whether on an edge
            _per_seed_column(row, key, [r.get(key) for r in runs], [s for s, _ in ran])
        row["seeds"] = len(runs)
        summary.append(row)
    return summary


def _per_seed_column(row: dict[str, Any], key: str, values: list[Any], seeds: list[int]) -> None:
    """``row[key]``: the one value every seed had, else each seed's (``seed 3: ...``, in seed order);
    nothing if none had it."""
    if all(v is None for v in values):
        return
    if all(v == values[0] for v in values):
        row[key] = values[0]
        return
    shown = [", ".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else str(v) for v in values]
    row[key] = " | ".join(f"seed {seed}: {text}" for seed, text in zip(seeds, shown, strict=True))


def paired_tests(rows: list[dict[str, Any]], runs: list[SeedRun], metrics: list[str]) -> list[PairedComparison]:
    """GraphSAGE against every other model that ran, on each of ``metrics``, Holm-adjusted per metric.

    Without a GraphSAGE row (``--models`` left it out, or it was skipped) the model with the best
    mean first metric stands in, so a table of baselines still says which of its gaps are real."""
    scored = [r for r in rows if metrics[0] in r and all(r["model"] in run.per_user for run in runs)]
    if len(scored) < 2:
        return []
    names = [r["model"] for r in scored]
    reference = SERVED if SERVED in names else max(scored, key=lambda r: float(r[metrics[0]]))["model"]
    users = [run.split.train.user_ids[run.split.test_users] for run in runs]
    return [
        test
        for metric in metrics
        for test in compare_against_all(
            reference, metric, {name: [run.per_user[name][metric] for run in runs] for name in names}, users=users
        )
    ]


__all__ = [
    "EvalConfig",
    "build_models",
    "evaluate_model",
    "load_dataset",
    "rank_metrics",
    "load_split",
    "markdown_table",
    "paired_tests",
    "per_user_arrays",
    "run_evaluation",
    "summarise_seeds",
    "tune",
    "validation_for",
]
