"""The blend rule: a normalised-score mixture of the embedding and graph candidate lists.

Each source's candidate scores are min-max normalised to ``[0, 1]`` over that source's own list
(an item missing from a list contributes 0 from it), then

    ``score(i) = alpha * emb_norm(i) + (1 - alpha) * graph_norm(i)``

``alpha`` is tuned per model version on a validation split (:mod:`graphrec.model.blend_tuning`)
and stored in the version's ``blend.json``; the offline tuner and the online path call this one
function so they cannot drift.

A user the model has never seen, with a thin history, gets a third list too: a popularity
**prior** (the model's most popular training items), normalised the same way and mixed in with weight
``beta``:

    ``score(i) = (1 - beta) * (alpha * emb_norm(i) + (1 - alpha) * graph_norm(i)) + beta * prior_norm(i)``

Why: from one or three interactions neither side knows much yet, and on MovieLens plain popularity
ranks a new user's next items better (NDCG@20) than either side alone; both weights depend on the
history's length and are tuned by ``graphrec evaluate --protocol new-users``'s protocol
(:mod:`graphrec.offline.new_user_tuner`). ``beta = 0`` is the two-source rule exactly.

A thin history's graph part has a second list too: the version's **item neighbours**
(:mod:`graphrec.model.item_neighbours`, uncapped co-interaction counts), weighed ``gamma`` within
the graph part:

    ``graph_part(i) = (1 - gamma) * graph_norm(i) + gamma * neighbours_norm(i)``

An item proposed by the neighbours is a graph item (``sources``): it reached the user through
co-interactions too. ``gamma = 0`` (every known user) is the rule above exactly.

An item nobody has interacted with yet (``unconnected``: a catalogue item the model places by its
content, :mod:`graphrec.recommend.cold_items`) cannot be on any graph list, and its absence says
nothing against it, while a trained item's absence says its co-interactions are weak. So its graph
part is its embedding part (``score = (1 - beta) * emb_norm + beta * prior_norm``): it ranks as the
embedding side ranks it instead of losing the graph's share by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Source = Literal["embedding", "graph", "both", "popular", "session"]


SOURCES: tuple[Source, Source, Source, Source] = ("embedding", "graph", "both", "popular")


@dataclass(frozen=True, slots=True)
class Blended:
    """Blended candidates as columns, best first; ``sources`` index :data:`SOURCES`."""

    ids: np.ndarray  # str
    scores: np.ndarray  # float64
    sources: np.ndarray  # int8: 0 embedding, 1 graph, 2 both, 3 the prior alone

    def __len__(self) -> int:
        return len(self.ids)


def normalise(scores: np.ndarray) -> np.ndarray:
    """Min-max to ``[0, 1]``; a constant list maps to all ones (every candidate equally good)."""
    s = np.asarray(scores, dtype=np.float64)
    if len(s) == 0:
        return s
    lo, hi = float(s.min()), float(s.max())
    if hi - lo <= 1e-12:
        return np.ones_like(s)
    return (s - lo) / (hi - lo)


def blend(
    emb_ids: np.ndarray,
    emb_scores: np.ndarray,
    graph_ids: np.ndarray,
    graph_scores: np.ndarray,
    alpha: float,
    *,
    prior: tuple[np.ndarray, np.ndarray] | None = None,
    beta: float = 0.0,
    neighbours: tuple[np.ndarray, np.ndarray] | None = None,
    gamma: float = 0.0,
    unconnected: frozenset[str] = frozenset(),
) -> Blended:
    """Blended candidates, best first (ties broken by item id for stable output).

    Each list holds distinct ids. ``prior``: ``(ids, scores)`` of the popularity prior, weighed ``beta``;
    ``neighbours``: ``(ids, scores)`` of the item neighbours, weighed ``gamma`` within the graph part
    (see the module docstring; each ignored when its weight is 0); ``unconnected``: ids with no
    interactions at all, whose graph part is their embedding part (the module docstring). Vectorised: the union is one
    ``np.unique`` over the id columns, so a request pays a few array operations, not a Python loop over
    a few hundred candidates.
    """
    empty = (np.zeros(0, dtype=str), np.zeros(0))
    prior_ids, prior_scores = prior if prior is not None and beta > 0 else empty
    nb_ids, nb_scores = neighbours if neighbours is not None and gamma > 0 else empty
    lists = [
        (np.asarray(emb_ids, dtype=str), emb_scores),
        (np.asarray(graph_ids, dtype=str), graph_scores),
        (np.asarray(nb_ids, dtype=str), nb_scores),
        (np.asarray(prior_ids, dtype=str), prior_scores),
    ]
    ids, slot = np.unique(np.concatenate([i for i, _ in lists]), return_inverse=True)
    ends = np.cumsum([len(i) for i, _ in lists])
    e_slot, g_slot, nb_slot, p_slot = np.split(slot, ends[:-1])
    n = len(ids)
    personal = 1.0 - beta if len(p_slot) else 1.0
    weights = (personal * alpha, personal * (1.0 - alpha) * (1.0 - gamma), personal * (1.0 - alpha) * gamma, beta)
    scores = np.zeros(n)
    for s, (_, raw), w in zip((e_slot, g_slot, nb_slot, p_slot), lists, weights, strict=True):
        scores += np.bincount(s, weights=w * normalise(raw), minlength=n)
    if unconnected:
        alone = np.isin(ids, np.array(sorted(unconnected), dtype=str))
        alone[g_slot] = alone[nb_slot] = False  # on a graph list after all (edges since training): as is
        emb_part = np.bincount(e_slot, weights=normalise(lists[0][1]), minlength=n)
        scores[alone] += personal * (1.0 - alpha) * emb_part[alone]
    sources = np.full(n, -1, dtype=np.int8)
    sources[e_slot] += 1
    graph_side = np.zeros(n, dtype=bool)
    graph_side[g_slot] = True
    graph_side[nb_slot] = True
    sources[graph_side] += 2
    sources[sources < 0] = 3  # proposed by the prior alone
    order = np.lexsort((ids, -scores))
    return Blended(ids[order], scores[order], sources[order])


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


def _accumulate(
    mixed: np.ndarray,
    cand: np.ndarray,
    rows: np.ndarray,
    sources: tuple[tuple[float, np.ndarray, bool], ...],
    top_n: int,
) -> None:
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
