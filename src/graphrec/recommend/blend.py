"""The blend rule: a normalised-score mixture of the embedding and graph candidate lists.

Each source's candidate scores are min-max normalised to ``[0, 1]`` over that source's own list
(an item missing from a list contributes 0 from it), then

    ``score(i) = alpha * emb_norm(i) + (1 - alpha) * graph_norm(i)``

``alpha`` is tuned per model version on a validation split (:mod:`graphrec.recommend.blend_tuning`)
and stored in the version's ``blend.json``; the offline tuner and the online path call this one
function so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

Source = Literal["embedding", "graph", "both", "popular"]


@dataclass(frozen=True, slots=True)
class Scored:
    item_id: str
    score: float
    source: Source


def normalise(scores: np.ndarray) -> np.ndarray:
    """Min-max to ``[0, 1]``; a constant list maps to all ones (every candidate equally good)."""
    s = np.asarray(scores, dtype=np.float64)
    if len(s) == 0:
        return s
    lo, hi = float(s.min()), float(s.max())
    if hi - lo <= 1e-12:
        return np.ones_like(s)
    return (s - lo) / (hi - lo)


def blend(embedding: Mapping[str, float], graph: Mapping[str, float], alpha: float) -> list[Scored]:
    """Blended candidates, best first (ties broken by item id for stable output)."""
    e_ids = list(embedding)
    g_ids = list(graph)
    # .tolist(): arithmetic on Python floats is several times cheaper than on numpy scalars
    e_norm = dict(zip(e_ids, normalise(np.fromiter(embedding.values(), float, len(e_ids))).tolist(), strict=True))
    g_norm = dict(zip(g_ids, normalise(np.fromiter(graph.values(), float, len(g_ids))).tolist(), strict=True))
    out: list[Scored] = []
    for item in dict.fromkeys(e_ids + g_ids):
        in_e, in_g = item in e_norm, item in g_norm
        score = alpha * e_norm.get(item, 0.0) + (1.0 - alpha) * g_norm.get(item, 0.0)
        source: Source = "both" if in_e and in_g else ("embedding" if in_e else "graph")
        out.append(Scored(item, score, source))
    out.sort(key=lambda s: (-s.score, s.item_id))
    return out


def blend_matrix(emb: np.ndarray, graph: np.ndarray, alpha: float, top_n: int) -> np.ndarray:
    """The same rule over dense ``(n_users, n_items)`` score matrices (the tuner's batch form).

    Only each row's ``top_n`` items per source are candidates (as online); others score ``-inf``.
    """
    out = np.full(emb.shape, -np.inf)
    rows = np.arange(emb.shape[0])[:, None]
    mixed = np.zeros(emb.shape)
    cand = np.zeros(emb.shape, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        _accumulate(mixed, cand, rows, ((alpha, emb, False), (1.0 - alpha, graph, True)), top_n)
    out[cand] = mixed[cand]
    return out


def _accumulate(mixed: np.ndarray, cand: np.ndarray, rows: np.ndarray,
                sources: tuple[tuple[float, np.ndarray, bool], ...], top_n: int) -> None:
    for weight, m, positive_only in sources:
        n = min(top_n, m.shape[1])
        top = np.argpartition(-m, kth=n - 1, axis=1)[:, :n]
        vals = np.take_along_axis(m, top, axis=1)
        valid = np.isfinite(vals) & (vals > (-np.inf))
        if positive_only:
            valid &= vals > 0  # no traversal path = not a graph candidate
        v = np.where(valid, vals, np.nan)
        lo, hi = np.nanmin(np.where(valid, v, np.inf), axis=1), np.nanmax(np.where(valid, v, -np.inf), axis=1)
        span = np.where(hi - lo > 1e-12, hi - lo, 1.0)
        norm = np.where(hi[:, None] - lo[:, None] > 1e-12, (vals - lo[:, None]) / span[:, None], 1.0)
        norm = np.where(valid, norm, 0.0)
        mixed[rows, top] += weight * norm
        cand[rows, top] |= valid
