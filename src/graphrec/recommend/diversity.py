"""Maximal marginal relevance over item embeddings (the ``diversity`` knob of the API).

Greedy: pick ``argmax_i  (1 - d) * rel(i) - d * max_{j picked} cos(e_i, e_j)``; ``d = 0`` keeps the
relevance order, ``d = 1`` maximises spread. Items without an embedding count as dissimilar.
"""

from __future__ import annotations

import numpy as np


def mmr(relevance: np.ndarray, vectors: np.ndarray | None, k: int, diversity: float) -> list[int]:
    """Positions (into ``relevance``) of the ``k`` picked candidates, in pick order.

    Args:
        relevance: ``(n,)`` scores, higher is better (any scale; min-max normalised here).
        vectors: ``(n, d)`` embeddings aligned with ``relevance`` (rows of zeros for unknown items).
        k: how many to pick.
        diversity: ``d`` in ``[0, 1]``.
    """
    n = len(relevance)
    k = min(k, n)
    if diversity <= 0 or vectors is None or n == 0:
        return list(np.argsort(-relevance, kind="stable")[:k])
    rel = np.asarray(relevance, dtype=np.float64)
    span = rel.max() - rel.min()
    rel = (rel - rel.min()) / span if span > 1e-12 else np.ones(n)
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sims = v @ v.T
    picked: list[int] = []
    max_sim = np.zeros(n)
    available = np.ones(n, dtype=bool)
    for _ in range(k):
        gain = np.where(available, (1 - diversity) * rel - diversity * max_sim, -np.inf)
        best = int(np.argmax(gain))
        picked.append(best)
        available[best] = False
        max_sim = np.maximum(max_sim, sims[best])
    return picked
