"""The early-stopping check: Recall@K and NDCG@K of embeddings on a validation holdout, ranked in torch.

One function, so the trainer and the training benchmark's baseline (PyG's LightGCN, ``bench/train.py``)
are judged by the same ranking. Why torch and not :func:`graphrec.evaluation.metrics.top_k`: on the
1M-edge benchmark graph (40k items) numpy's ``argpartition`` took ~6 s per block of 2,048 users where
``torch.topk`` takes ~0.3 s (one thread, same box), and early stopping ranks every validation user every
few epochs. The top-K lists then go through the offline evaluation's own :func:`ranking_metrics`, so the
definitions of the metrics stay in one place. Only the order of exactly tied scores may differ from
``top_k``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from graphrec.evaluation.metrics import ranking_metrics

CHUNK = 2048  # users scored at once: a (CHUNK, n_items) float32 block


def validation_metrics(
    user_embeddings: torch.Tensor,
    item_embeddings: torch.Tensor,
    user_items: sp.csr_matrix,
    validation: sp.csr_matrix,
    k: int,
    *,
    chunk: int = CHUNK,
) -> dict[str, float]:
    """``{"recall@k", "ndcg@k"}`` over the users with a validation item, ranking every item by dot product
    with the user's training items (``user_items``' pattern) excluded, as the offline evaluation does.

    Shapes: ``user_embeddings`` ``(n_users, d)``, ``item_embeddings`` ``(n_items, d)`` (same device);
    ``user_items`` and ``validation`` ``(n_users, n_items)`` CSR.
    """
    users = np.flatnonzero(np.diff(validation.indptr) > 0)
    n_items = item_embeddings.shape[0]
    top = min(k, n_items)
    device = user_embeddings.device
    tops = [np.empty((0, top), dtype=np.int64)]
    with torch.no_grad():
        for start in range(0, len(users), chunk):
            batch = users[start : start + chunk]
            scores = user_embeddings[torch.from_numpy(batch).to(device)] @ item_embeddings.T
            seen = user_items[batch].tocoo()
            rows = torch.from_numpy(seen.row.astype(np.int64)).to(device)
            cols = torch.from_numpy(seen.col.astype(np.int64)).to(device)
            scores[rows, cols] = -torch.inf
            tops.append(torch.topk(scores, top, dim=1).indices.cpu().numpy())
    popularity = np.diff(user_items.tocsc().indptr)
    metrics = ranking_metrics(
        np.concatenate(tops), validation[users], k=k, item_popularity=popularity, n_users_train=user_items.shape[0]
    )
    return {key: metrics[key] for key in (f"recall@{k}", f"ndcg@{k}")}
