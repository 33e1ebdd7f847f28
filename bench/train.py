"""Training benchmark: prints JSON with wall time, s/epoch and peak RSS, against a baseline in the same run.

Stages run in fresh subprocesses so each peak RSS is its own:

* ``ml100k``: full training (early stopping + refit) with the default config, target < 2 min;
* ``synthetic``: one full-graph epoch on a generated 1M-interaction graph (~30k users x 40k items),
  target <= 30 s;
* ``baseline``: the same GraphSAGE layers as PyG ``SAGEConv`` over ``edge_index`` (gather/scatter),
  a few full-graph batches on the same 1M graph, extrapolated to one epoch;
* ``sampled`` (``--sampled-edges N``, optional): neighbour-sampled mini-batches on an N-interaction
  graph, a few batches extrapolated to an epoch, reporting peak RSS (the 10M-in-8-GiB claim);
* ``ttb_graphsage`` and ``ttb_lightgcn``, reported together as ``time_to_best``: on the same 1M graph,
  GraphSAGE through the real ``Trainer`` and PyG's own ``torch_geometric.nn.models.LightGCN`` each train
  with early stopping on the Trainer's validation holdout (the same edges, dim, depth, batch and learning
  rate, threads, ranking function, evaluation cadence and patience) under the same wall budget
  (``--budget-s``). Each reports the wall time from its start to its best validation evaluation
  (``time_to_best_s``, the target: <= 600 s for GraphSAGE), the epoch, Recall/NDCG@20 there, the curve, the
  whole run's time and why it ended (``early stopping``: the best is confirmed; ``budget``: the best within
  the budget). Batch and learning rate (``--ttb-batch``, ``--ttb-lr``) default to 32,768 and 0.03, not the
  Trainer's 8,192 and 0.01: at 8,192 an epoch is ~110 full-graph propagations (55-90 s on the shared
  2 cores), four times the work of an epoch at 32,768.

Usage: ``python bench/train.py [--ml100k PATH] [--sampled-edges 10000000] [--busy 1] [--stages ...]``
(``--stages ttb_graphsage,ttb_lightgcn``: only the time-to-best comparison.)
(``--busy N`` keeps N CPU-bound processes running beside each stage: the figure for a shared machine.)

``--nproc N`` (N >= 2) runs only the data-parallel comparison instead: the same training (``--ddp-graph``:
ML-100K's 80% when it is there, else the 1M synthetic graph; ``--ddp-epochs``, the default config, no
refit, the validation metric once after the last epoch) as 1 process and as N ``torch.distributed`` ranks
(``launch_local``, what ``graphrec train --nproc N`` starts; gloo on the CPU), each in a fresh subprocess.
Epoch time is the median of the epochs after the first. Threads are what each way gets when deployed
(``threads = "auto"``: half the cores for one process, ``cores / N`` for each rank) and are reported. The
final validation Recall/NDCG of each shows both trained the same model (within seed noise: the ranks draw
other negatives).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ML100K = Path("/work/shared/datasets/ml-100k")


def synthetic_snapshot(n_users: int, n_items: int, n_edges: int, *, seed: int = 0, clusters: int = 64):
    """Power-law item popularity plus latent tastes: users draw 70% of items from their taste cluster."""
    from graphrec.snapshot import Snapshot

    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    rng.shuffle(popularity)
    item_cluster = rng.integers(0, clusters, n_items)
    user_cluster = rng.integers(0, clusters, n_users)
    degree = np.maximum(1, rng.lognormal(0, 1.0, n_users))
    degree = np.maximum(2, np.round(degree / degree.sum() * n_edges * 1.3)).astype(np.int64)
    users = np.repeat(np.arange(n_users), degree)
    in_cluster = rng.random(len(users)) < 0.7
    # global draws
    cdf = np.cumsum(popularity) / popularity.sum()
    items = np.searchsorted(cdf, rng.random(len(users)))
    # in-cluster draws: inverse CDF within the user's cluster
    order = np.argsort(item_cluster, kind="stable")
    pop_sorted = popularity[order]
    bounds = np.searchsorted(item_cluster[order], np.arange(clusters + 1))
    cum = np.cumsum(pop_sorted)
    start_cum = np.concatenate([[0.0], cum])[bounds[:-1]]
    end_cum = cum[bounds[1:] - 1]
    c = user_cluster[users[in_cluster]]
    target = start_cum[c] + rng.random(len(c)) * (end_cum[c] - start_cum[c])
    items[in_cluster] = order[np.minimum(np.searchsorted(cum, target), bounds[c + 1] - 1)]
    ts = 1_700_000_000_000 + rng.integers(0, 180 * 86_400_000, len(users))
    snap = Snapshot.from_coo(
        user_ids=np.array([f"u{i}" for i in range(n_users)]),
        item_ids=np.array([f"i{i}" for i in range(n_items)]),
        rows=users,
        cols=items,
        weights=np.ones(len(users), np.float32),
        timestamps=ts,
    )
    return snap


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage_ml100k(path: str) -> dict[str, object]:
    from graphrec.evaluation.datasets import load_movielens
    from graphrec.evaluation.splits import random_holdout
    from graphrec.model.config import TrainConfig
    from graphrec.model.trainer import Trainer

    train = random_holdout(load_movielens(path), seed=0).train
    t0 = time.perf_counter()
    result = Trainer(TrainConfig(), progress=False).fit(train)
    return {
        "graph": "ml-100k (80% train)",
        "edges": train.n_edges,
        "wall_s": round(time.perf_counter() - t0, 2),
        "s_per_epoch": round(result.seconds_per_epoch, 4),
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history) + result.best_epoch,
        "peak_rss_mib": round(peak_rss_mib()),
        "target": "< 120 s",
    }


def stage_synthetic() -> dict[str, object]:
    from graphrec.model.config import TrainConfig
    from graphrec.model.trainer import Trainer

    snap = synthetic_snapshot(30_000, 40_000, 1_000_000)
    cfg = TrainConfig(epochs=1, validation_fraction=0.0, batch_size=32768, mode="full")
    t0 = time.perf_counter()
    result = Trainer(cfg, progress=False).fit(snap)
    return {
        "graph": "synthetic",
        "users": snap.n_users,
        "items": snap.n_items,
        "edges": snap.n_edges,
        "mode": "full-graph, sparse CSR + custom backward",
        "batch_size": cfg.batch_size,
        "s_per_epoch": round(result.seconds_per_epoch, 2),
        "wall_s": round(time.perf_counter() - t0, 2),
        "peak_rss_mib": round(peak_rss_mib()),
        "target": "<= 30 s/epoch",
    }


def stage_baseline(batches: int = 3, batch: int = 32768) -> dict[str, object]:
    """PyG SAGEConv(x, edge_index) full-graph passes with the same sizes, BPR step, extrapolated."""
    import torch
    from torch_geometric.nn import SAGEConv

    from graphrec.model.losses import bpr_loss

    snap = synthetic_snapshot(30_000, 40_000, 1_000_000)
    n_users, n = snap.n_users, snap.n_users + snap.n_items
    src = torch.from_numpy(snap.rows)
    dst = torch.from_numpy(snap.indices + n_users)
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    emb = torch.nn.Embedding(n, 64)
    convs = torch.nn.ModuleList([SAGEConv(64, 64, aggr="mean") for _ in range(2)])
    opt = torch.optim.Adam(list(emb.parameters()) + list(convs.parameters()), lr=0.01)
    rng = np.random.default_rng(0)
    times = []
    for _ in range(batches):
        idx = rng.integers(0, snap.n_edges, batch)
        t0 = time.perf_counter()
        h = emb.weight
        outs = [h]
        for conv in convs:
            h = conv(h, edge_index)
            outs.append(h)
        out = torch.stack(outs).mean(0)
        u = out[torch.from_numpy(snap.rows[idx])]
        p = out[torch.from_numpy(snap.indices[idx] + n_users)]
        q = out[torch.from_numpy(rng.integers(0, snap.n_items, batch) + n_users)]
        loss = bpr_loss((u * p).sum(-1), (u * q).sum(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    per_batch = float(np.median(times))
    n_batches = int(np.ceil(snap.n_edges / batch))
    return {
        "graph": "synthetic",
        "edges": snap.n_edges,
        "mode": "PyG SAGEConv over edge_index",
        "batches_measured": batches,
        "batch_size": batch,
        "s_per_batch": round(per_batch, 3),
        "s_per_epoch_extrapolated": round(per_batch * n_batches, 1),
        "peak_rss_mib": round(peak_rss_mib()),
    }


def stage_sampled(n_edges: int, batches: int = 5) -> dict[str, object]:
    from graphrec.model.config import TrainConfig
    from graphrec.model.trainer import Trainer

    n_users, n_items = int(n_edges / 33), int(n_edges / 25)
    t0 = time.perf_counter()
    snap = synthetic_snapshot(n_users, n_items, n_edges)
    gen_s = time.perf_counter() - t0
    cfg = TrainConfig(epochs=1, validation_fraction=0.0, batch_size=4096, mode="sampled", steps_per_epoch=batches)
    t1 = time.perf_counter()
    result = Trainer(cfg, progress=False).fit(snap)  # whole graph in memory, only `batches` steps
    setup_and_steps = time.perf_counter() - t1
    batch_s = result.seconds_per_epoch / batches
    return {
        "graph": "synthetic",
        "users": snap.n_users,
        "items": snap.n_items,
        "edges": snap.n_edges,
        "mode": f"neighbour-sampled, fanouts {cfg.fanouts}, batch {cfg.batch_size}",
        "generate_s": round(gen_s, 1),
        "fit_wall_s": round(setup_and_steps, 1),
        "s_per_batch": round(batch_s, 3),
        "s_per_epoch_extrapolated": round(batch_s * snap.n_edges / cfg.batch_size, 1),
        "trained_mode": result.mode,
        "peak_rss_mib": round(peak_rss_mib()),
        "target": "< 8192 MiB",
    }


STAGES = ("ml100k", "synthetic", "baseline", "sampled", "ttb_graphsage", "ttb_lightgcn")
BUDGET_S = 600.0
TTB_BATCH = 32768
TTB_LR = 3e-2


def ttb_config(batch_size: int, lr: float):
    """What both time-to-best runs share: the default config with this batch and learning rate, no refit
    (the time measured is the fit phase's, up to its best validation epoch and early stop)."""
    from graphrec.model.config import TrainConfig

    return TrainConfig(batch_size=batch_size, lr=lr, refit=False)


class Stopwatch:
    """Wall time of a training run from its start, its validation curve and the wall budget.

    ``epoch(row)`` takes each epoch's history row (the Trainer's ``after_epoch`` hook; the LightGCN loop
    builds the same rows) and returns True once the budget is spent: the run stops after that epoch.
    """

    def __init__(self, budget_s: float, k: int) -> None:
        self.budget_s = budget_s
        self.key = f"recall@{k}"
        self.ndcg = f"ndcg@{k}"
        self.started = time.perf_counter()
        self.evaluations: list[dict[str, float]] = []
        self.over_budget = False
        self.epochs = 0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def epoch(self, row: dict[str, float]) -> bool:
        now = self.elapsed()
        self.epochs = int(row["epoch"])
        if self.key in row:
            self.evaluations.append(
                {"epoch": int(row["epoch"]), "t_s": round(now, 1), "recall": row[self.key], "ndcg": row[self.ndcg]}
            )
        self.over_budget = now >= self.budget_s
        return self.over_budget

    def summary(self, patience: int) -> dict[str, object]:
        """Time to the best validation (the first evaluation with the highest recall, as the Trainer keeps),
        its metrics, the whole run's wall time and why it ended."""
        total = self.elapsed()
        best_i = int(np.argmax([e["recall"] for e in self.evaluations])) if self.evaluations else -1
        best = self.evaluations[best_i] if self.evaluations else {}
        stale = len(self.evaluations) - 1 - best_i
        ended = "early stopping" if best_i >= 0 and stale >= patience else ("budget" if self.over_budget else "epochs")
        return {
            "time_to_best_s": best.get("t_s"),
            "best_epoch": best.get("epoch"),
            f"best_{self.key}": None if not best else round(float(best["recall"]), 4),
            f"best_{self.ndcg}": None if not best else round(float(best["ndcg"]), 4),
            "epochs_run": self.epochs,
            "evaluations": len(self.evaluations),
            "total_wall_s": round(total, 1),
            "ended_by": ended,
            "best_confirmed": ended == "early stopping",  # else: the best within the budget
            "curve": [[e["epoch"], e["t_s"], round(float(e["recall"]), 4)] for e in self.evaluations],
        }


def stage_ttb_graphsage(batch_size: int, lr: float, budget_s: float) -> dict[str, object]:
    """GraphSAGE through the real Trainer on the 1M graph: early stopping on its validation holdout, the
    wall clock from before ``fit`` (content features, split, adjacency included) to each evaluation."""
    from graphrec.model.config import resolve_threads
    from graphrec.model.trainer import Trainer

    snap = synthetic_snapshot(30_000, 40_000, 1_000_000)
    cfg = ttb_config(batch_size, lr)
    watch = Stopwatch(budget_s, cfg.metric_k)
    result = Trainer(cfg, progress="lines", after_epoch=watch.epoch).fit(snap)
    out = watch.summary(cfg.patience)
    return {
        "model": "graphrec GraphSAGE (Trainer)",
        "edges": snap.n_edges,
        "config": {"batch_size": cfg.batch_size, "lr": cfg.lr, "eval_every": cfg.eval_every, "patience": cfg.patience},
        "threads": resolve_threads(cfg.threads),
        "mode": result.mode,
        **out,
        "s_per_epoch": round(result.seconds_per_epoch, 2),
        "peak_rss_mib": round(peak_rss_mib()),
    }


def stage_ttb_lightgcn(batch_size: int, lr: float, budget_s: float) -> dict[str, object]:
    """PyG's ``LightGCN`` on the same training and validation edges as the Trainer's (``validation_split``),
    with its own BPR ``recommendation_loss`` (uniform negatives, its default L2 1e-4 = the config's ``reg``),
    the same dim, depth, batch, learning rate, threads, evaluation function, cadence, patience and budget.

    The adjacency goes in as a torch CSR normalised once by PyG's ``gcn_norm`` (``LGConv(normalize=False)``):
    PyG's ``edge_index`` form (its example) took ~5-7 s per batch of 8,192 here, the CSR form ~1.5 s.
    """
    import torch
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    from torch_geometric.nn.models import LightGCN

    from graphrec.model.config import resolve_threads
    from graphrec.model.negative_sampler import NegativeSampler
    from graphrec.model.trainer import validation_split
    from graphrec.model.validation import validation_metrics

    snap = synthetic_snapshot(30_000, 40_000, 1_000_000)
    cfg = ttb_config(batch_size, lr)
    watch = Stopwatch(budget_s, cfg.metric_k)
    threads = resolve_threads(cfg.threads)
    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    split = validation_split(snap, cfg)
    train = split.train
    user_items = train.matrix("weights")
    n_users = train.n_users
    n = n_users + train.n_items
    src = torch.from_numpy(train.rows.astype(np.int64))
    dst = torch.from_numpy(train.indices.astype(np.int64) + n_users)
    edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])
    edge_index, edge_weight = gcn_norm(edge_index, None, n, add_self_loops=False)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": only CSR @ dense is used
        warnings.simplefilter("ignore", UserWarning)
        adj = torch.sparse_coo_tensor(edge_index, edge_weight, (n, n)).coalesce().to_sparse_csr()
    model = LightGCN(n, cfg.encoder.dim, cfg.encoder.layers, normalize=False)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    negatives = NegativeSampler(user_items, rng)
    edge_users, edge_items = train.rows, train.indices
    best, stale, epoch_times = -1.0, 0, []
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = rng.permutation(len(edge_users))
        total = 0.0
        for start in range(0, len(order), cfg.batch_size):
            idx = order[start : start + cfg.batch_size]
            users = torch.from_numpy(edge_users[idx].astype(np.int64))
            pos = torch.from_numpy(edge_items[idx].astype(np.int64) + n_users)
            neg = torch.from_numpy(negatives.uniform(edge_users[idx])[:, 0].astype(np.int64) + n_users)
            label_index = torch.stack([torch.cat([users, users]), torch.cat([pos, neg])])
            pos_rank, neg_rank = model(adj, label_index).chunk(2)
            loss = model.recommendation_loss(pos_rank, neg_rank, node_id=label_index.unique())
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        epoch_times.append(time.perf_counter() - t0)
        row: dict[str, float] = {"epoch": epoch, "loss": total, "seconds": epoch_times[-1]}
        stop = False
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            model.eval()
            with torch.no_grad():
                emb = model.get_embedding(adj)
            row.update(validation_metrics(emb[:n_users], emb[n_users:], user_items, split.test, cfg.metric_k))
            recall = row[f"recall@{cfg.metric_k}"]
            best, stale = (recall, 0) if recall > best else (best, stale + 1)
            stop = stale >= cfg.patience
            print(
                f"lightgcn epoch {epoch}: recall {recall:.4f} at {watch.elapsed():.0f} s", file=sys.stderr, flush=True
            )
        if watch.epoch(row) or stop:
            break
    out = watch.summary(cfg.patience)
    return {
        "model": "PyG torch_geometric.nn.models.LightGCN",
        "edges": snap.n_edges,
        "config": {"batch_size": cfg.batch_size, "lr": cfg.lr, "eval_every": cfg.eval_every, "patience": cfg.patience},
        "threads": threads,
        "mode": "full-graph, torch CSR adjacency (gcn_norm once)",
        **out,
        "s_per_epoch": round(float(np.mean(epoch_times)), 2),
        "peak_rss_mib": round(peak_rss_mib()),
    }


def time_to_best(report: dict[str, object], budget_s: float) -> dict[str, object]:
    """The two time-to-best runs side by side, the target and the ratio (GraphSAGE / LightGCN)."""
    sage, light = report.pop("ttb_graphsage", {}), report.pop("ttb_lightgcn", {})
    out: dict[str, object] = {
        "graphsage": sage,
        "lightgcn": light,
        "budget_s": budget_s,
        "target": "graphsage time_to_best_s <= 600",
    }
    s = sage.get("time_to_best_s") if isinstance(sage, dict) else None
    g = light.get("time_to_best_s") if isinstance(light, dict) else None
    out["target_met"] = s is not None and s <= 600
    if s is not None and g:
        out["time_ratio_graphsage_over_lightgcn"] = round(s / g, 2)
        # a model that stops early at a lower peak has a short time-to-best: also say when each first
        # reached the lower of the two best recalls
        common = min(float(sage["best_recall@20"]), float(light["best_recall@20"]))
        out["common_recall@20"] = common
        out["time_to_common_recall_s"] = {
            name: next(t for _, t, recall in run["curve"] if recall >= common)
            for name, run in (("graphsage", sage), ("lightgcn", light))
        }
    return out


def compact(report: dict[str, object]) -> str:
    """``report`` as indented JSON with each innermost list (a curve point) on one line."""
    text = json.dumps(report, indent=2)
    return re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)


DDP_GRAPHS = ("ml100k", "synthetic")


def ddp_snapshot(graph: str, ml100k: str):
    """The graph both runs of ``--nproc`` train on: ML-100K's 80% train split, or the 1M synthetic graph."""
    if graph == "ml100k":
        from graphrec.evaluation.datasets import load_movielens
        from graphrec.evaluation.splits import random_holdout

        return random_holdout(load_movielens(ml100k), seed=0).train
    return synthetic_snapshot(30_000, 40_000, 1_000_000)


def ddp_config(epochs: int, device: str, threads: int | str):
    """Fixed-length training (one validation, after the last epoch: no early stop, no refit), otherwise
    the defaults; ``batch_size`` is the global batch, split across ranks."""
    from graphrec.model.config import TrainConfig

    return TrainConfig(epochs=epochs, eval_every=epochs, refit=False, device=device, threads=threads)


def ddp_summary(result, threads: int | None) -> dict[str, object]:
    """Epoch times and the final validation metrics of a fit (rank 0's, which every rank agreed on)."""
    times = [float(row["seconds"]) for row in result.history]
    last = result.history[-1]
    return {
        "threads": threads,
        "epochs": len(times),
        "epoch_s": [round(t, 3) for t in times],
        "s_per_epoch_median": round(float(np.median(times[1:] if len(times) > 1 else times)), 4),
        "validation": {k: round(float(v), 4) for k, v in last.items() if "@" in k},
    }


def ddp_rank(graph: str, ml100k: str, epochs: int, device: str, nproc: int, out: str) -> None:
    """One rank of the N-rank run (spawned by ``launch_local``); rank 0 writes the summary to ``out``."""
    from graphrec.model.distributed import process_group, threads_per_rank
    from graphrec.model.trainer import Trainer

    threads = threads_per_rank(nproc)  # what graphrec train --nproc gives each local rank
    snap = ddp_snapshot(graph, ml100k)
    with process_group(device) as ranks:
        result = Trainer(ddp_config(epochs, device, threads), progress=False, ranks=ranks).fit(snap)
        if ranks.is_main:
            Path(out).write_text(json.dumps({"world_size": ranks.world_size, **ddp_summary(result, threads)}))


def stage_ddp(nproc: int, graph: str, ml100k: str, epochs: int, device: str) -> dict[str, object]:
    """The run ``--nproc`` times: 1 process (a plain Trainer), or ``nproc`` local ranks."""
    import tempfile

    from graphrec.model.config import resolve_threads
    from graphrec.model.distributed import launch_local
    from graphrec.model.trainer import Trainer

    t0 = time.perf_counter()
    if nproc == 1:
        snap = ddp_snapshot(graph, ml100k)
        result = Trainer(ddp_config(epochs, device, "auto"), progress=False).fit(snap)
        out: dict[str, object] = {"world_size": 1, **ddp_summary(result, resolve_threads("auto"))}
    else:
        with tempfile.TemporaryDirectory(prefix="graphrec-bench-ddp-") as tmp:
            summary = Path(tmp, "rank0.json")
            launch_local(nproc, ddp_rank, (graph, ml100k, epochs, device, nproc, str(summary)), timeout_s=1800)
            out = json.loads(summary.read_text())
    return {**out, "wall_s": round(time.perf_counter() - t0, 2)}


def compare_ranks(args: argparse.Namespace) -> dict[str, object]:
    """1 process, then ``args.nproc`` ranks, each in a fresh subprocess, on the same data and settings."""
    graph = args.ddp_graph or ("ml100k" if Path(args.ml100k, "u.data").exists() else "synthetic")
    runs: dict[int, dict[str, object]] = {}
    for nproc in (1, args.nproc):
        cmd = [sys.executable, __file__, "--stage", "ddp", "--nproc", str(nproc), "--ddp-graph", graph]
        cmd += ["--ddp-epochs", str(args.ddp_epochs), "--device", args.device, "--ml100k", args.ml100k]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise SystemExit(f"the {nproc}-process run failed:\n{proc.stderr[-3000:]}")
        runs[nproc] = json.loads(lines[-1])
    one, many = runs[1], runs[args.nproc]
    ratio = float(many["s_per_epoch_median"]) / float(one["s_per_epoch_median"])
    return {
        "bench": "train --nproc",
        "graph": graph,
        "config": {"epochs": args.ddp_epochs, "device": args.device, "cpus": os.cpu_count(), "refit": False},
        "one_process": one,
        f"ranks_{args.nproc}": many,
        "epoch_time_ratio": round(ratio, 3),  # N ranks / 1 process: below 1 is faster
        "speedup": round(1 / ratio, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", choices=[*STAGES, "ddp"], help="run one stage in this process (internal)")
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="comma-separated stages of the default run (ml100k needs the data set; sampled needs --sampled-edges)",
    )
    parser.add_argument("--budget-s", type=float, default=BUDGET_S, help="time-to-best: wall budget of each run")
    parser.add_argument("--ttb-batch", type=int, default=TTB_BATCH, help="time-to-best: batch size of both models")
    parser.add_argument("--ttb-lr", type=float, default=TTB_LR, help="time-to-best: learning rate of both models")
    parser.add_argument("--ml100k", default=str(ML100K))
    parser.add_argument("--sampled-edges", type=int, default=0)
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="CPU-bound processes kept running beside the stage "
        "(the 'busy machine' figure: default threads must not collapse)",
    )
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        help="N >= 2: only the data-parallel comparison, epoch time of N ranks vs 1 process, same data and settings",
    )
    parser.add_argument("--ddp-graph", choices=DDP_GRAPHS, help="--nproc's data (default: ml100k when present)")
    parser.add_argument("--ddp-epochs", type=int, default=8, help="--nproc: epochs of each run")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="--nproc: cuda needs a GPU per rank")
    args = parser.parse_args()
    if args.nproc < 1 or args.ddp_epochs < 2:
        parser.error("--nproc must be at least 1 and --ddp-epochs at least 2 (the first epoch is not timed)")
    if args.nproc > 1 and not args.stage:
        print(json.dumps(compare_ranks(args), indent=2))
        return
    if args.stage:
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
        try:
            out = {
                "ml100k": lambda: stage_ml100k(args.ml100k),
                "synthetic": stage_synthetic,
                "baseline": stage_baseline,
                "sampled": lambda: stage_sampled(args.sampled_edges),
                "ttb_graphsage": lambda: stage_ttb_graphsage(args.ttb_batch, args.ttb_lr, args.budget_s),
                "ttb_lightgcn": lambda: stage_ttb_lightgcn(args.ttb_batch, args.ttb_lr, args.budget_s),
                "ddp": lambda: stage_ddp(args.nproc, args.ddp_graph, args.ml100k, args.ddp_epochs, args.device),
            }[args.stage]()
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
        print(json.dumps({**out, "busy_processes": args.busy}))
        return
    asked = [name.strip() for name in args.stages.split(",") if name.strip()]
    unknown = sorted(set(asked) - set(STAGES))
    if unknown:
        parser.error(f"--stages: unknown {', '.join(unknown)} (choose from {', '.join(STAGES)})")
    stages = [
        name
        for name in STAGES
        if name in asked
        and (name != "ml100k" or Path(args.ml100k, "u.data").exists())
        and (name != "sampled" or args.sampled_edges)
    ]
    report: dict[str, object] = {"load_before": round(os.getloadavg()[0], 2)}
    for stage in stages:
        cmd = [
            sys.executable,
            __file__,
            "--stage",
            stage,
            "--ml100k",
            args.ml100k,
            "--sampled-edges",
            str(args.sampled_edges),
            "--busy",
            str(args.busy),
            "--budget-s",
            str(args.budget_s),
            "--ttb-batch",
            str(args.ttb_batch),
            "--ttb-lr",
            str(args.ttb_lr),
        ]
        # stderr passes through: the time-to-best runs print their progress lines there
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        report[stage] = json.loads(lines[-1]) if lines else {"error": f"exit {proc.returncode}, see stderr"}
        if isinstance(report[stage], dict):
            report[stage]["load_after"] = round(os.getloadavg()[0], 2)  # type: ignore[index]
    if "ttb_graphsage" in report or "ttb_lightgcn" in report:
        report["time_to_best"] = time_to_best(report, args.budget_s)
    syn, base = report.get("synthetic", {}), report.get("baseline", {})
    if isinstance(syn, dict) and isinstance(base, dict) and "s_per_epoch" in syn and "s_per_epoch_extrapolated" in base:
        report["speedup_vs_edge_index"] = round(base["s_per_epoch_extrapolated"] / syn["s_per_epoch"], 1)
    print(compact(report))


if __name__ == "__main__":
    main()
