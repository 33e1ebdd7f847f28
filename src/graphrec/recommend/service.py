"""Recommendations for a user and similar items: candidates, blend, filters, diversity, explanations.

Candidates come from (a) the model's embedding space (ANN over item embeddings) and (b) the graph
(2-hop co-interaction traversal in the store); they are blended with
:func:`graphrec.recommend.blend.blend` using the model version's tuned ``alpha``. A user unknown
to both falls back to trending items. When the store fails, results come from the model alone and
are flagged ``degraded``; :class:`NothingToServe` means neither source can answer (HTTP 503).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from graphrec.events.decay import decay_weights
from graphrec.graph.port import GraphStore
from graphrec.graph.records import Candidate, Interaction
from graphrec.recommend import explain
from graphrec.recommend.blend import Scored, Source, blend
from graphrec.recommend.cograph import CoInteractionIndex
from graphrec.recommend.diversity import mmr
from graphrec.recommend.popular import CatalogView
from graphrec.serving.holder import ModelState

logger = logging.getLogger(__name__)


class NothingToServe(Exception):
    """Neither the store nor a model can produce a result."""


@dataclass(frozen=True, slots=True)
class RecItem:
    item_id: str
    title: str | None
    score: float
    source: Source
    reasons: tuple[str, ...] = ()


@dataclass
class RecResult:
    items: list[RecItem]
    model_version: str | None
    degraded: bool
    cold_start: bool
    personalised_from: str = "none"  # model | inductive | graph | none
    source_mix: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RecRequest:
    user_id: str
    k: int = 20
    exclude_seen: bool = True
    category: str | None = None
    diversity: float = 0.0
    explain: bool = False


def _user_vector(state: ModelState, user_id: str, history: list[Interaction] | None, now_ms: int,
                 half_life_days: float) -> tuple[np.ndarray | None, str]:
    """The model's vector for the user, recomputed inductively when the store has newer events."""
    art = state.artifact
    uidx = art.user_index(user_id)
    if history:
        newer = uidx is None or max(e.last_ts for e in history) > state.trained_at_ms
        if newer:
            known = [(art.item_index(e.item_id), e) for e in history]
            known = [(i, e) for i, e in known if i is not None]
            if known:
                idx = np.array([i for i, _ in known], dtype=np.int64)
                w = decay_weights(np.array([e.weight for _, e in known]), np.array([e.last_ts for _, e in known]),
                                  now_ms=now_ms, half_life_days=half_life_days)
                return art.infer_user(idx, w, user_index=uidx), "inductive"
    if uidx is not None:
        return art.user_embeddings[uidx], "model"
    return None, "none"


def _anchor(state: ModelState, item_id: str, seen_idx: np.ndarray, seen_ids: list[str]) -> str | None:
    """The seen item most similar to ``item_id`` in embedding space (the explanation's evidence)."""
    art = state.artifact
    i = art.item_index(item_id)
    if i is None or len(seen_idx) == 0:
        return None
    sims = art.item_embeddings[seen_idx] @ art.item_embeddings[i]
    return seen_ids[int(np.argmax(sims))]


@dataclass(frozen=True, slots=True)
class TraversalLimits:
    seed_items: int = 20
    fanout: int = 50


def _graph_candidates(user_id: str, history: list[Interaction], *, store: GraphStore,
                      cograph: CoInteractionIndex | None, traversal: TraversalLimits, limit: int, now_ms: int,
                      half_life_days: float) -> list[Candidate]:
    """Co-interaction candidates: from the in-memory index when built (seeds are the user's live
    history from the store), else the store's own traversal; both use the same formula."""
    if cograph is None:
        return store.co_interaction_candidates_for_user(
            user_id=user_id, limit=limit, seed_items=traversal.seed_items, fanout=traversal.fanout,
            now_ms=now_ms, half_life_days=half_life_days)
    recent = history[: traversal.seed_items]  # history is most recent first
    decayed = decay_weights(np.array([e.weight for e in recent]), np.array([e.last_ts for e in recent]),
                            now_ms=now_ms, half_life_days=half_life_days)
    return cograph.candidates_for_user(
        user_id=user_id, seeds=list(zip([e.item_id for e in recent], decayed.tolist(), strict=True)),
        limit=limit, exclude=[e.item_id for e in history])


def recommend_for_user(req: RecRequest, *, store: GraphStore, state: ModelState | None, view: CatalogView,
                       default_alpha: float, half_life_days: float, top_n: int,
                       cograph: CoInteractionIndex | None = None,
                       traversal: TraversalLimits = TraversalLimits()) -> RecResult:
    now_ms = int(time.time() * 1000)
    degraded = False
    try:
        history: list[Interaction] | None = store.user_interactions(user_id=req.user_id, limit=200)
    except Exception:
        logger.warning("store unavailable reading %s's history; degrading", req.user_id, exc_info=True)
        history, degraded = None, True
    seen_ids = [e.item_id for e in history or []]
    seen = set(seen_ids)
    want = req.k * 3 + (len(seen) if req.exclude_seen else 0)
    emb: dict[str, float] = {}
    personalised = "none"
    seen_idx = np.zeros(0, dtype=np.int64)
    seen_ids_known: list[str] = []
    if state is not None:
        art = state.artifact
        vec, personalised = _user_vector(state, req.user_id, history, now_ms, half_life_days)
        known_seen = [(art.item_index(s), s) for s in seen_ids]
        seen_pairs = [(i, s) for i, s in known_seen if i is not None]
        seen_idx = np.array([i for i, _ in seen_pairs], dtype=np.int64)
        seen_ids_known = [s for _, s in seen_pairs]
        if vec is not None:
            ids, scores = art.recommend(vec, max(top_n, want), exclude=seen_idx if req.exclude_seen else None)
            emb = dict(zip(ids.tolist(), scores.astype(float).tolist(), strict=True))
    graph: dict[str, Candidate] = {}
    if history:
        try:
            graph = {c.item_id: c for c in _graph_candidates(req.user_id, history, store=store, cograph=cograph,
                                                             traversal=traversal, limit=max(top_n, want),
                                                             now_ms=now_ms, half_life_days=half_life_days)}
        except Exception:
            logger.warning("store traversal failed for %s; degrading", req.user_id, exc_info=True)
            degraded = True
        if personalised == "none" and graph:
            personalised = "graph"
    alpha = state.blend.alpha if state is not None else default_alpha
    if not emb and not graph:
        return _popular_result(req, view, seen, state, degraded, now_ms)
    if not emb:
        alpha = 0.0
    elif not graph:
        alpha = 1.0
    blended = blend(emb, {i: c.score for i, c in graph.items()}, alpha)
    blended = [s for s in blended if _keep(s.item_id, req, seen, view)]
    if not blended:
        return _popular_result(req, view, seen, state, degraded, now_ms)
    picked = _diversify(blended, req, state)
    items = []
    for s in picked:
        reasons: list[str] = []
        if req.explain:
            c = graph.get(s.item_id)
            if c is not None and c.evidence:
                reasons.append(explain.graph_reason(c.evidence, view.title))
            if s.item_id in emb and state is not None:
                anchor = _anchor(state, s.item_id, seen_idx, seen_ids_known)
                if anchor is not None:
                    reasons.append(explain.embedding_reason(anchor, view.title))
            if not reasons:
                reasons.append("close to your taste profile learned from your interactions")
        items.append(RecItem(s.item_id, view.title(s.item_id), round(s.score, 6), s.source, tuple(reasons)))
    mix: dict[str, int] = {}
    for it in items:
        mix[it.source] = mix.get(it.source, 0) + 1
    return RecResult(items, state.version if state else None, degraded or state is None, False, personalised, mix)


def _keep(item_id: str, req: RecRequest, seen: set[str], view: CatalogView) -> bool:
    if req.exclude_seen and item_id in seen:
        return False
    return req.category is None or view.in_category(item_id, req.category)


def _diversify(blended: list[Scored], req: RecRequest, state: ModelState | None) -> list[Scored]:
    pool = blended[: max(req.k * 5, req.k)]
    if req.diversity <= 0 or state is None:
        return pool[: req.k]
    art = state.artifact
    dim = art.item_embeddings.shape[1]
    vecs = np.zeros((len(pool), dim), dtype=np.float32)
    for row, s in enumerate(pool):
        i = art.item_index(s.item_id)
        if i is not None:
            vecs[row] = art.item_embeddings[i]
    order = mmr(np.array([s.score for s in pool]), vecs, req.k, req.diversity)
    return [pool[p] for p in order]


def _popular_result(req: RecRequest, view: CatalogView, seen: set[str], state: ModelState | None,
                    degraded: bool, now_ms: int) -> RecResult:
    ranked = view.trending(req.category, req.k, exclude=seen if req.exclude_seen else frozenset())
    if not ranked and not view.popular and degraded:
        raise NothingToServe("the graph store is unreachable and no model or cached popular items exist")
    top = ranked[0][1] if ranked else 1.0
    reason = (explain.popular_reason(req.category),) if req.explain else ()
    items = [RecItem(i, view.title(i), round(s / top if top else 0.0, 6), "popular", reason) for i, s in ranked]
    return RecResult(items, state.version if state else None, degraded or state is None, True, "none",
                     {"popular": len(items)} if items else {})


def similar_items(item_id: str, k: int, *, store: GraphStore, state: ModelState | None, view: CatalogView,
                  default_alpha: float, top_n: int, explain_: bool = False,
                  cograph: CoInteractionIndex | None = None,
                  traversal: TraversalLimits = TraversalLimits()) -> RecResult:
    """Embedding neighbours blended with co-interaction neighbours of ``item_id``."""
    degraded = False
    emb: dict[str, float] = {}
    if state is not None:
        art = state.artifact
        i = art.item_index(item_id)
        if i is not None:
            ids, scores = art.recommend(art.item_embeddings[i], max(top_n, k) + 1, exclude=np.array([i]))
            emb = dict(zip(ids.tolist(), scores.astype(float).tolist(), strict=True))
    graph: dict[str, float] = {}
    try:
        cands = (cograph.candidates_for_item(item_id=item_id, limit=max(top_n, k), fanout=traversal.fanout)
                 if cograph is not None and item_id in cograph.item_lookup else
                 store.co_interaction_candidates_for_item(item_id=item_id, limit=max(top_n, k),
                                                          fanout=traversal.fanout))
        graph = {c.item_id: c.score for c in cands}
    except Exception:
        logger.warning("store traversal failed for item %s; degrading", item_id, exc_info=True)
        degraded = True
    if degraded and not emb:
        raise NothingToServe("the graph store is unreachable and the model does not know this item")
    alpha = state.blend.alpha if state is not None else default_alpha
    alpha = 0.0 if not emb else (1.0 if not graph else alpha)
    picked = [s for s in blend(emb, graph, alpha) if s.item_id != item_id][:k]
    items = []
    for s in picked:
        reasons: tuple[str, ...] = ()
        if explain_:
            r = []
            if s.item_id in graph:
                r.append(explain.co_item_reason(item_id, view.title))
            if s.item_id in emb:
                r.append(explain.similar_item_reason(item_id, view.title))
            reasons = tuple(r)
        items.append(RecItem(s.item_id, view.title(s.item_id), round(s.score, 6), s.source, reasons))
    mix: dict[str, int] = {}
    for it in items:
        mix[it.source] = mix.get(it.source, 0) + 1
    return RecResult(items, state.version if state else None, degraded or state is None, False, "none", mix)
