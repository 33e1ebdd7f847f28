"""The new-user report (``graphrec evaluate --protocol new-users``, :func:`run_new_users`): every seed
evaluated by the new-user protocol, then ``results.json`` and ``results.md``.

One seed (:func:`evaluate_seed`) is steps 1-4 of :mod:`graphrec.offline.new_user_protocol`: a version
trained as ``graphrec train`` trains one (the new-user blend tuned by
:class:`~graphrec.offline.new_user_tuner.NewUserBlendTuner`), then every row of :data:`ROWS` served to
the held-out users and scored. It sits here rather than beside the protocol because it needs the
tuner, which is built on the protocol.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from graphrec.evaluation.baselines import MostPopular
from graphrec.evaluation.splits import new_user_split
from graphrec.evaluation.statistics import compare_against_all, mean_interval
from graphrec.model.blend_tuning import BlendParams, HistoryWeights
from graphrec.model.config import TrainConfig
from graphrec.model.pipeline import PipelineConfig, train
from graphrec.offline.new_user_protocol import (
    NewUserProtocol,
    Served,
    fit_item_knn,
    per_user_metrics,
    rank_from_history,
    serve_new_users,
    tune_item_knn,
)
from graphrec.offline.new_user_tuner import NewUserBlendTuner
from graphrec.progress import Mode, StepProgress
from graphrec.recommend.serving_config import ServingConfig
from graphrec.serving.holder import load_state
from graphrec.snapshot import Snapshot

# the report's rows, in table order
BLEND = "API blend, weights by n (tuned)"
BEFORE = "API blend, one alpha (before)"
EMBEDDING = "API embedding side only (alpha 1)"
GRAPH = "API graph side only (alpha 0)"
NEIGHBOURS = "API item neighbours only (alpha 0, gamma 1)"
ITEM_KNN = "ItemKNN-from-history"
POPULAR = "MostPopular"
ROWS = (BLEND, BEFORE, EMBEDDING, GRAPH, NEIGHBOURS, ITEM_KNN, POPULAR)


@dataclass
class SeedResult:
    """One seed: per row and history length, the per-user recall and NDCG (held-out users in the
    order of ``user_ids``)."""

    seed: int
    users: int
    user_ids: np.ndarray
    per_user: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]
    blend: BlendParams
    item_knn: dict[int, dict[str, float]]
    seconds: float


def evaluate_seed(
    full: Snapshot,
    protocol: NewUserProtocol,
    train_config: TrainConfig,
    *,
    seed: int,
    serving: ServingConfig,
    models_path: Path,
    progress: Mode | bool = False,
) -> SeedResult:
    """Steps 1-4 of the module docstring for one seed; the version is written under ``models_path``."""
    started = time.perf_counter()
    split = new_user_split(
        full,
        fraction=protocol.fraction,
        lengths=protocol.lengths,
        min_rest=protocol.min_rest,
        seed=seed,
        max_users=protocol.max_users,
    )
    pipeline = PipelineConfig(
        name="new-users",
        holdout_fraction=0.0,
        new_users=protocol.tuning,
        train=train_config.model_copy(update={"seed": seed}),
    )
    shutil.rmtree(models_path / f"new-users-seed{seed}", ignore_errors=True)  # never a stale blend.json
    directory = train(
        pipeline,
        models_path=models_path,
        half_life_days=serving.half_life_days,
        snapshot=split.train,
        version=f"new-users-seed{seed}",
        progress=progress,
        new_users=NewUserBlendTuner(serving, progress=progress),
    )
    state = load_state(directory, default_alpha=serving.default_alpha)
    served = Served.build(state, split.train, serving)
    k = protocol.k
    rankers: dict[str, Callable[[int], np.ndarray]] = {
        BLEND: lambda n: serve_new_users(served, split, n, k=k),
        BEFORE: lambda n: serve_new_users(served.with_blend(replace(state.blend, new_users={})), split, n, k=k),
        EMBEDDING: lambda n: serve_new_users(served.with_blend(BlendParams(alpha=1.0, source="fixed")), split, n, k=k),
        GRAPH: lambda n: serve_new_users(served.with_blend(BlendParams(alpha=0.0, source="fixed")), split, n, k=k),
        NEIGHBOURS: lambda n: serve_new_users(
            served.with_blend(
                BlendParams(
                    alpha=0.0,
                    source="fixed",
                    new_users={
                        1: HistoryWeights(
                            alpha=0.0, gamma=1.0, similarity=state.blend.weights_for(n, new_user=True).similarity
                        )
                    },
                )
            ),
            split,
            n,
            k=k,
        ),
    }
    # the tuner chose ItemKNN's parameters per n on its validation users; a version without them is tuned here
    tuned_knn = state.blend.new_user_details.get("item_knn")
    knn_params = (
        {int(n): p for n, p in tuned_knn.items()}
        if tuned_knn and set(map(int, tuned_knn)) == set(protocol.tuning.lengths)
        else tune_item_knn(split.train, protocol.tuning, seed + 1)
    )
    knn = fit_item_knn(split.train, knn_params)
    popular = MostPopular()
    popular.fit(split.train)
    rankers[ITEM_KNN] = lambda n: rank_from_history(knn[n].score_history, split.fed(n), k=k)
    rankers[POPULAR] = lambda n: rank_from_history(popular.score_history, split.fed(n), k=k)
    per_user: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {name: {} for name in ROWS}
    for n in protocol.lengths:
        relevant = split.rest(n)
        for name in ROWS:
            per_user[name][n] = per_user_metrics(rankers[name](n), relevant)
    return SeedResult(
        seed=seed,
        users=split.n_users,
        user_ids=split.user_ids,
        per_user=per_user,
        blend=state.blend,
        item_knn=knn_params,
        seconds=round(time.perf_counter() - started, 1),
    )


def _columns(protocol: NewUserProtocol) -> list[tuple[str, int, int]]:
    """``(column name, metric position (0 recall, 1 ndcg), n)`` in table order."""
    k = protocol.k
    return [(f"{name}@{k} n={n}", metric, n) for n in protocol.lengths for metric, name in ((0, "recall"), (1, "ndcg"))]


def summarise(results: list[SeedResult], protocol: NewUserProtocol) -> list[dict[str, Any]]:
    """One row per model: each cell's mean over the seeds and (several seeds) its 95% half-width."""
    rows = []
    for name in ROWS:
        row: dict[str, Any] = {"model": name}
        for column, metric, n in _columns(protocol):
            mean, half = mean_interval([float(r.per_user[name][n][metric].mean()) for r in results])
            row[column] = mean
            if len(results) > 1:
                row[f"{column} ±"] = half
        rows.append(row)
    return rows


def comparisons(results: list[SeedResult], protocol: NewUserProtocol) -> list[dict[str, Any]]:
    """The tuned new-user blend against each baseline, per n and metric, Holm-adjusted over the
    baselines. Each seed holds out its own users, so with several seeds the test runs over the
    seeds' mean differences (:mod:`graphrec.evaluation.statistics` says why)."""
    out = []
    users = [r.user_ids for r in results]
    for column, metric, n in _columns(protocol):
        per_seed = {name: [r.per_user[name][n][metric] for r in results] for name in (BLEND, ITEM_KNN, POPULAR)}
        for test in compare_against_all(BLEND, column, per_seed, users=users):
            out.append({**test.as_dict(), "sentence": test.sentence()})
    return out


def markdown(rows: list[dict[str, Any]], protocol: NewUserProtocol) -> str:
    """Rows = models; columns = Recall@k and NDCG@k per history length (``mean ± half-width``)."""
    columns = _columns(protocol)
    head = ["model", *(f"{'R' if metric == 0 else 'NDCG'}@{protocol.k} n={n}" for _, metric, n in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in rows:
        cells = [row["model"]]
        for column, _, _ in columns:
            half = row.get(f"{column} ±")
            cells.append(f"{row[column]:.4f}" + (f" ± {half:.4f}" if half is not None else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_new_users(
    full: Snapshot,
    protocol: NewUserProtocol,
    train_config: TrainConfig,
    *,
    seeds: list[int],
    serving: ServingConfig,
    output: Path,
    dataset: str,
    progress: Mode | bool = True,
) -> list[dict[str, Any]]:
    """Every seed's :func:`evaluate_seed`, then ``results.json`` (rows, per-seed rows, the tuned
    weights, the paired tests) and ``results.md`` (the table) in ``output``; returns the rows."""
    output.mkdir(parents=True, exist_ok=True)
    report = StepProgress(len(seeds), progress, desc="new-users")
    results = []
    for seed in seeds:
        result = evaluate_seed(
            full, protocol, train_config, seed=seed, serving=serving, models_path=output / "versions", progress=False
        )
        results.append(result)
        blend_row = summarise([result], protocol)[0]
        report.done(
            f"seed {seed}",
            ", ".join(f"{c} {blend_row[c]:.4f}" for c, m, _ in _columns(protocol) if m == 1),
            result.seconds,
        )
    report.close()
    rows = summarise(results, protocol)
    tests = comparisons(results, protocol)
    meta = {
        "dataset": dataset,
        "protocol": "new-users",
        "seeds": seeds,
        "config": protocol.model_dump(),
        "train": train_config.model_dump(),
        "serving": {
            "half_life_days": serving.half_life_days,
            "top_n": serving.candidates_per_source,
            "seed_items": serving.traversal.seed_items,
            "fanout": serving.traversal.fanout,
            "co_items": serving.traversal.co_items,
        },
        "held_out_users": {str(r.seed): r.users for r in results},
        "new_user_weights": {
            str(r.seed): {str(n): asdict(w) for n, w in sorted(r.blend.new_users.items())} for r in results
        },
        "one_alpha": {str(r.seed): r.blend.alpha for r in results},
        "tuning": {str(r.seed): r.blend.new_user_details for r in results},
        "item_knn_params": {str(r.seed): {str(n): p for n, p in r.item_knn.items()} for r in results},
        "seconds": {str(r.seed): r.seconds for r in results},
        "per_seed": {str(r.seed): summarise([r], protocol) for r in results},
        "paired_tests": tests,
    }
    (output / "results.json").write_text(json.dumps({"results": rows, "meta": meta}, indent=2, default=float))
    seed_text = f"seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f"seed {seeds[0]}"
    lines = [
        f"# New users: {dataset} ({seed_text}; {', '.join(str(r.users) for r in results)} held-out users)",
        "",
        markdown(rows, protocol),
        "",
        "Tuned new-user weights (alpha = embedding share of the personal "
        "part, beta = popularity prior, gamma = item neighbours' share of the graph part), per seed:",
        "",
    ]
    for r in results:
        lines.append(
            f"- seed {r.seed}: " + "; ".join(f"n={n}: {w.describe()}" for n, w in sorted(r.blend.new_users.items()))
        )
    if tests:
        lines += ["", "Paired tests (new-user blend minus baseline):", ""]
        lines += [f"- {t['sentence']}" for t in tests]
    (output / "results.md").write_text("\n".join(lines) + "\n")
    return rows
