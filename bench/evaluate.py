"""Evaluation benchmark: prints JSON with each baseline's tune, fit and rank seconds on a generated data
set, and the ItemKNN tuning speed-up measured against the old per-point path in the same run.

* ``data``: ``graphrec.data.synthetic.generate`` writes an events file shaped like issue 30's set
  (~27 edges a user, ~19.5 a item: 800k edges are ~30k users x 41k items), read by the ``events:``
  loader ``graphrec evaluate`` uses; the split is the evaluation's (random 80/20, seed 0).
* ``baselines``: per model, what ``graphrec evaluate`` does for it: ``tune_s`` (the validation grid
  search: fits and validation rankings), ``fit_s`` (the winner's fit on the training edges),
  ``rank_s`` (full ranking of every test user), their ``total_s`` and the process's CPU seconds
  ``cpu_s`` (all its threads: on a shared box the wall time depends on the other work, the CPU time
  much less; on two idle cores the wall time is at most about the CPU time), Recall@20, the point
  that won and whether it sat on the grid's edge; ``load_1min``: the box's load when the baselines
  started and ended.
* ``item_knn_grid``: on a smaller generated set (``--slice-edges``, same shape), the old 12-point grid
  tuned both ways on the same validation users: ``per_point`` fits each point by the old dense-block
  algorithm (kept here, verbatim, as the reference it was) and ranks; ``shared`` is
  :meth:`ItemKNN.grid` (one co-occurrence product) and the same ranking. Both pick their winner; the
  validation recalls agree to float tolerance (ties among equal similarities may keep other items).

Usage: ``python bench/evaluate.py [--edges 800000] [--slice-edges 100000] [--models ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from graphrec.data.synthetic import SyntheticSpec, generate
from graphrec.evaluation.baselines import ItemKNN
from graphrec.evaluation.baselines.ease import CatalogueTooLarge
from graphrec.evaluation.datasets import load_events
from graphrec.evaluation.ranking import RankingTask
from graphrec.evaluation.splits import Split, random_holdout
from graphrec.offline.runner import EvalConfig, build_models, rank_metrics, tune, validation_for
from graphrec.offline.tuning import validation_split, validation_users
from graphrec.snapshot import Snapshot

OLD_GRID = [(k, h) for k in (50, 100, 200, 400) for h in (0.0, 10.0, 50.0)]  # the runner's grid before issue 30


def synthetic(edges: int, directory: Path) -> Snapshot:
    """About ``edges`` user-item edges from the project's generator (3.4M events gave 797,699 edges)."""
    events = directory / "events.csv"
    generate(
        SyntheticSpec(interactions=round(edges * 4.27), seed=0, users=edges // 27, items=round(edges / 19.5)), events
    )
    return load_events(events)


def old_item_knn(train: Snapshot, neighbours: int, shrink: float) -> ItemKNN:
    """The ItemKNN fit before issue 30 (dense row blocks, a division and an ``argpartition`` over the
    whole catalogue per row), for the per-point baseline."""
    x = train.matrix("ones").tocsc().astype(np.float32)
    xt = x.T.tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(0)).ravel())
    n_items = train.n_items
    k = max(min(neighbours, n_items - 1), 0)
    rows, cols, vals = [], [], []
    for start in range(0, n_items, 2048):
        stop = min(start + 2048, n_items)
        co = np.asarray((xt[start:stop] @ x).todense())
        sim = co / (np.outer(norms[start:stop], norms) + shrink + 1e-12)
        sim[np.arange(stop - start), np.arange(start, stop)] = 0.0
        top = np.argpartition(-sim, kth=k - 1, axis=1)[:, :k]
        v = np.take_along_axis(sim, top, axis=1)
        keep = v > 0
        rows.append(np.repeat(np.arange(start, stop), k)[keep.ravel()])
        cols.append(top[keep])
        vals.append(v[keep])
    kept = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_items, n_items),
        dtype=np.float32,
    )
    model = ItemKNN(neighbours=neighbours, shrink=shrink)
    model._set(kept, train.matrix("ones").tocsr())
    return model


def item_knn_grid(split: Split, cfg: EvalConfig) -> dict[str, Any]:
    """The old 12-point ItemKNN grid tuned per point (old fit) and shared (:meth:`ItemKNN.grid`)."""
    validation = validation_split(split, protocol="random", fraction=cfg.validation_fraction, seed=cfg.seed)
    users = validation_users(validation, most=cfg.tune_users, seed=cfg.seed)
    task = RankingTask.of(validation.train.matrix("ones"), users)

    def recall(model: ItemKNN) -> float:
        return float(rank_metrics(model, validation, [20], task=task)["recall@20"])

    started = time.perf_counter()
    per_point = {f"{k},{h}": recall(old_item_knn(validation.train, k, h)) for k, h in OLD_GRID}
    per_point_s = time.perf_counter() - started
    started = time.perf_counter()
    grid = ItemKNN.grid(validation.train, neighbours=[50, 100, 200, 400], shrinks=[0.0, 10.0, 50.0])
    shared = {f"{m.neighbours},{m.shrink}": recall(m) for m in grid}
    shared_s = time.perf_counter() - started
    return {
        "train_edges": validation.train.n_edges,
        "items": validation.train.n_items,
        "validation_users": len(users),
        "points": len(OLD_GRID),
        "per_point_s": round(per_point_s, 1),
        "shared_s": round(shared_s, 1),
        "speedup": round(per_point_s / shared_s, 1),
        "winner_per_point": max(per_point, key=lambda p: per_point[p]),
        "winner_shared": max(shared, key=lambda p: shared[p]),
        "max_recall_difference": round(max(abs(per_point[p] - shared[p]) for p in per_point), 6),
    }


def baselines(split: Split, cfg: EvalConfig) -> list[dict[str, Any]]:
    """Each baseline as ``graphrec evaluate`` runs it (tuned on validation, fitted, ranked), timed; the
    test users' ranking task and the validation holdout are built once, as the evaluation does (their
    seconds are the row ``shared``)."""
    started = time.perf_counter()
    task = RankingTask.of(split.train.matrix("ones"), split.test_users)
    validation = validation_for(cfg, split)
    rows: list[dict[str, Any]] = [{"model": "shared", "total_s": round(time.perf_counter() - started, 1)}]
    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    for model in build_models(cfg):
        started, cpu = time.perf_counter(), time.process_time()
        extra: dict[str, Any] = {}
        try:
            if model.name in ("ItemKNN", "ALS", "EASE", "MF-BPR"):
                model, extra = tune(model.name, cfg, split, validation=validation)
            tune_s = time.perf_counter() - started
            t0 = time.perf_counter()
            model.fit(split.train)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            metrics = rank_metrics(model, split, [20], task=task)
            rank_s = time.perf_counter() - t0
        except CatalogueTooLarge as exc:  # EASE above its item bound says why in one line
            rows.append({"model": model.name, "skipped": str(exc), "total_s": round(time.perf_counter() - started, 1)})
            continue
        rows.append(
            {
                "model": model.name,
                "tune_s": round(tune_s, 1),
                "fit_s": round(fit_s, 1),
                "rank_s": round(rank_s, 1),
                "total_s": round(time.perf_counter() - started, 1),
                "cpu_s": round(time.process_time() - cpu, 1),
                "recall@20": round(metrics["recall@20"], 4),
                **{k: extra[k] for k in ("params", "grid_edge", "tuned_points", "validation_users") if k in extra},
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=800_000)
    parser.add_argument("--slice-edges", type=int, default=100_000)
    parser.add_argument("--models", default="MostPopular,ItemKNN,Traversal,ALS,EASE")
    parser.add_argument("--tune-users", type=int, default=5_000)
    args = parser.parse_args()
    cfg = EvalConfig(
        dataset="store", seed=0, ks=[20], models=args.models.split(","), tune_users=args.tune_users, progress=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        snap = synthetic(args.edges, Path(tmp))
        data_s = time.perf_counter() - started
    split = random_holdout(snap, seed=0)
    out: dict[str, Any] = {
        "data": {
            "users": snap.n_users,
            "items": snap.n_items,
            "edges": snap.n_edges,
            "train_edges": split.train.n_edges,
            "seconds": round(data_s, 1),
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        out["item_knn_grid"] = item_knn_grid(random_holdout(synthetic(args.slice_edges, Path(tmp)), seed=0), cfg)
    print(json.dumps(out["item_knn_grid"]), file=sys.stderr, flush=True)
    started, cpu = time.perf_counter(), time.process_time()
    load = os.getloadavg()[0]
    out["baselines"] = baselines(split, cfg)
    out["baselines_total_s"] = round(time.perf_counter() - started, 1)
    out["baselines_cpu_s"] = round(time.process_time() - cpu, 1)
    out["load_1min"] = {"start": round(load, 1), "end": round(os.getloadavg()[0], 1), "cores": os.cpu_count()}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
