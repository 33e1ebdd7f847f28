"""What each spawned rank runs in the data-parallel tests (a module of its own: spawned processes import
these functions by name, and a test module would drag pytest's collection along).

Every rank joins the process group from the environment ``launch_local`` set, trains, and leaves its
findings in ``out_dir`` as JSON/npy for the test to judge; an exception in a rank fails the launch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from graphrec.evaluation.datasets import load_movielens
from graphrec.evaluation.metrics import ranking_metrics, top_k
from graphrec.evaluation.splits import random_holdout
from graphrec.model.config import TrainConfig
from graphrec.model.distributed import Ranks, process_group
from graphrec.model.graphsage import GraphSAGERec
from graphrec.model.trainer import Trainer, TrainResult
from graphrec.snapshot import Snapshot
from model.graphs import block_snapshot


def _flat(model: GraphSAGERec) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()]).cpu()


def lockstep_rank(cfg_json: str, out_dir: str) -> None:
    """Train on the block graph; after every step gather each rank's flat parameter vector and count
    the steps where they differ, and the steps where the parameters did not move at all."""
    cfg = TrainConfig.model_validate_json(cfg_json)
    torch.set_num_threads(1)
    out = Path(out_dir)
    with process_group("cpu") as ranks:
        seen: dict[str, int] = {"steps": 0, "differ": 0, "unchanged": 0}
        last: list[torch.Tensor] = []

        def compare(model: GraphSAGERec) -> None:
            flat = _flat(model)
            copies = ranks.gather_all(flat)
            seen["steps"] += 1
            seen["differ"] += int(any(not torch.equal(copies[0], c) for c in copies[1:]))
            seen["unchanged"] += int(bool(last) and torch.equal(last[0], flat))
            last[:] = [flat]

        result = Trainer(cfg, progress=False, ranks=ranks, after_step=compare).fit(block_snapshot())
        users, items = result.embeddings()
        np.save(out / f"users{ranks.rank}.npy", users)
        np.save(out / f"items{ranks.rank}.npy", items)
        (out / f"rank{ranks.rank}.json").write_text(
            json.dumps({**seen, "world_size": ranks.world_size, "best_epoch": result.best_epoch})
        )


def holdout_recall(result: TrainResult, train: Snapshot, test: sp.csr_matrix, k: int = 20) -> float:
    """Recall@k on ``test``'s edges, the training edges excluded from each user's list."""
    users, items = result.embeddings()
    seen = train.matrix("ones")
    relevant = test.tocsr()
    rows = np.flatnonzero(np.diff(relevant.indptr) > 0)
    tops = top_k(users[rows] @ items.T, k, exclude=seen[rows])
    popularity = np.diff(seen.tocsc().indptr)
    return ranking_metrics(tops, relevant[rows], k=k, item_popularity=popularity, n_users_train=seen.shape[0])[
        f"recall@{k}"
    ]


def ml100k_split(data_dir: Path) -> tuple[Snapshot, sp.csr_matrix]:
    split = random_holdout(load_movielens(data_dir), test_fraction=0.2, seed=0)
    return split.train, split.test


def ml100k_rank(cfg_json: str, data_dir: str, out_dir: str) -> None:
    """Train on ML-100K's 80% as one of the ranks; rank 0 writes the test Recall@20."""
    cfg = TrainConfig.model_validate_json(cfg_json)
    train, test = ml100k_split(Path(data_dir))
    with process_group("cpu") as ranks:
        result = Trainer(cfg, progress=False, ranks=ranks).fit(train)
        if ranks.is_main:
            _write(ranks, Path(out_dir), holdout_recall(result, train, test))


def _write(ranks: Ranks, out: Path, recall: float) -> None:
    (out / "recall.json").write_text(json.dumps({"recall@20": recall, "world_size": ranks.world_size}))
