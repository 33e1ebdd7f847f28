"""Recommendations for a user and similar items: candidates, blend, filters, diversity, explanations.

Candidates come from (a) the model's embedding space (ANN over item embeddings) and (b) the graph
(2-hop co-interaction traversal over the in-memory index, seeded by the user's live history, or the
store's own traversal without an index); they are blended with
:func:`graphrec.scoring.blend.blend` using the model version's tuned ``alpha`` (a user the version has
never seen: weights tuned by history length, with the version's item neighbours and a popularity
prior). A user unknown
to both falls back to trending items. When the store fails, results come from the model alone and
are flagged ``degraded``; :class:`NothingToServe` means neither source can answer (HTTP 503).

Items the served version never saw but a catalogue described (:mod:`graphrec.recommend.cold_items`)
join the embedding side: searched beside the version's own items by the same measure (cosine for
similar items, inner product for a user), and marked content-based in the explanation.

A user's recommendation is two steps: the store read (:class:`UserInputs`, awaited by the API) and
:func:`recommend_for_user`, pure computing with no I/O, so the API can run it on its event loop.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Literal

import numpy as np

from graphrec import clock
from graphrec.clock import decay_reference, decay_weights
from graphrec.graph.errors import StoreUnavailable
from graphrec.graph.port import GraphStore
from graphrec.graph.records import UserHistory
from graphrec.model.blend_tuning import HistoryWeights
from graphrec.model.item_neighbours import NeighbourCandidates, Similarity
from graphrec.model.state import ModelState
from graphrec.recommend import explain
from graphrec.recommend.cograph import CoInteractionIndex, GraphCandidates
from graphrec.recommend.cold_items import ColdItems, merged
from graphrec.recommend.diversity import mmr
from graphrec.recommend.filters import ListFilter
from graphrec.recommend.paging import LeaveOut, Skip
from graphrec.recommend.popular import CatalogView
from graphrec.recommend.serving_config import ServingConfig
from graphrec.scoring.blend import SOURCES, Blended, Source, blend
from graphrec.scoring.traversal import select_seeds

logger = logging.getLogger(__name__)


# What a user's list was personalised from: the version's own vector, one inferred from newer history,
# the graph alone, or nothing (trending).
Personalised = Literal["model", "inductive", "graph", "none"]


class NothingToServe(Exception):
    """Neither the store nor a model can produce a result."""


class RankingChanged(Exception):
    """A list continued from a page served under another model version (decided before any work)."""


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """What a blended score is made of (``explain=true``), so an analyst can reconcile the API with
    Cypher: ``embedding`` is the raw embedding-side score (inner product for users, cosine for
    items), ``graph`` the raw traversal score (03-why-recommended's ``score``), ``alpha`` the blend
    weight of the embedding side, ``neighbours`` the raw item-neighbour score and ``gamma`` its share
    of the graph part (:mod:`graphrec.model.item_neighbours`); a source that did not propose the
    item is ``None``."""

    embedding: float | None
    graph: float | None
    alpha: float
    neighbours: float | None = None  # the item-neighbour score (a new user's thin history only)
    gamma: float = 0.0  # the item neighbours' share of the graph part


@dataclass(frozen=True, slots=True)
class RecItem:
    item_id: str
    title: str | None
    score: float
    source: Source
    reasons: tuple[str, ...] = ()
    parts: ScoreParts | None = None
    evidence: tuple[str, ...] = ()  # the graph side's seeds, strongest first (explain=true)


def _parts_lookup(
    emb_ids: np.ndarray,
    emb_scores: np.ndarray,
    graph: GraphCandidates,
    neighbours: NeighbourCandidates | None,
    alpha: float,
    gamma: float = 0.0,
) -> Callable[[str], ScoreParts]:
    """Raw per-source scores by item id; built only when an explanation is asked for."""
    emb = dict(zip(emb_ids.tolist(), emb_scores.tolist(), strict=True))
    gra = dict(zip(graph.ids.tolist(), graph.scores.tolist(), strict=True))
    nb = {} if neighbours is None else dict(zip(neighbours.ids.tolist(), neighbours.scores.tolist(), strict=True))
    return lambda item_id: ScoreParts(emb.get(item_id), gra.get(item_id), alpha, nb.get(item_id), gamma)


@dataclass
class RecResult:
    items: list[RecItem]
    model_version: str | None
    degraded: bool
    cold_start: bool
    personalised_from: Personalised = "none"
    source_mix: dict[str, int] = field(default_factory=dict)
    recommendation_id: str | None = None  # recorded for impressions and attribution (graphrec.events.feedback)
    experiment: str | None = None
    arm: str | None = None
    # When the co-interaction index the graph side read was built (epoch ms): edges written later are not
    # in its scores until the next rebuild; None when the graph side read the store live (no index yet).
    graph_as_of_ms: int | None = None


@dataclass(frozen=True)
class RecRequest:
    user_id: str
    k: int = 20
    exclude_seen: bool = True
    category: str | None = None
    diversity: float = 0.0
    explain: bool = False
    leave_out: LeaveOut = field(default_factory=LeaveOut)  # exclude= ids, and what earlier pages returned
    # a later page of a list: the model version its first page was ranked by (a different one now: 409)
    continues: bool = False
    continued_version: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    attributes: tuple[tuple[str, str], ...] = ()

    @property
    def filter(self) -> ListFilter:
        """The list's filters (category, price range, attributes), with the catalogue's availability."""
        return ListFilter(self.category, self.price_min, self.price_max, self.attributes)


HISTORY_LIMIT = 200  # most recent edges a recommendation reads


@dataclass(frozen=True, slots=True)
class UserInputs:
    """What a user's recommendation reads from the store, read before any computing starts.

    Why a separate step: the store read is I/O and the rest is CPU; the API awaits the read
    (``GraphStore.history_reader``) and computes on its event loop, so neither waits for the other.
    """

    history: UserHistory | None  # None: the store could not be read
    store_graph: GraphCandidates | None = None  # the store's own traversal, when there is no index
    degraded: bool = False
    # Every item the user ever interacted with, when ``history`` (the recent window) was cut at its
    # limit: what ``exclude_seen`` leaves out, whatever the user's degree.
    seen_all: frozenset[str] = frozenset()


def traversal_inputs(
    store: GraphStore,
    user_id: str,
    history: UserHistory,
    *,
    k: int,
    exclude_seen: bool,
    config: ServingConfig,
    now_ms: int,
    seen_all: frozenset[str] = frozenset(),
    left_out: int = 0,
) -> UserInputs:
    """``history`` plus the store's own traversal: for when no in-memory index is built (blocking).
    ``left_out``: how many candidates the page may leave out (``RecRequest.leave_out``)."""
    limit = config.candidate_limit(
        k, exclude_seen=exclude_seen, n_seen=len(set(history.item_ids) | seen_all), left_out=left_out
    )
    traversal = config.traversal
    try:
        cands = store.co_interaction_candidates_for_user(
            user_id=user_id,
            limit=limit,
            seed_items=traversal.seed_items,
            fanout=traversal.fanout,
            co_items=traversal.co_items,
            now_ms=decay_reference(history.last_ts, default=now_ms),
            half_life_days=config.half_life_days,
        )
    except StoreUnavailable as exc:
        logger.warning("store traversal failed for %s; degrading: %s", user_id, exc)
        return UserInputs(history, None, True, seen_all)
    return UserInputs(history, GraphCandidates.from_list(cands), seen_all=seen_all)


def _user_vector(
    state: ModelState, user_id: str, history: UserHistory, item_idx: np.ndarray, now_ms: int, half_life_days: float
) -> tuple[np.ndarray | None, Personalised]:
    """The model's vector for the user, recomputed inductively when the store has newer events.

    ``item_idx`` holds the model's index of each history item (-1 where the model does not know it).
    """
    art = state.artifact
    uidx = art.user_index(user_id)
    if len(history) and (uidx is None or int(history.last_ts.max()) > state.trained_at_ms):
        known = item_idx >= 0
        if known.any():
            w = decay_weights(
                history.weights[known],
                history.last_ts[known],
                now_ms=decay_reference(history.last_ts, default=now_ms),
                half_life_days=half_life_days,
            )
            return art.infer_user(item_idx[known], w, user_index=uidx), "inductive"
    if uidx is not None:
        return art.user_embeddings[uidx], "model"
    return None, "none"


def _anchor(
    state: ModelState, item_id: str, seen_idx: np.ndarray, seen_ids: list[str], cold: ColdItems | None = None
) -> str | None:
    """The seen item most similar to ``item_id`` in embedding space (the explanation's evidence); an item
    the version never saw is compared by its content embedding (``cold``)."""
    art = state.artifact
    i = art.item_index(item_id)
    vector = art.item_embeddings[i] if i is not None else cold.vector(item_id) if cold is not None else None
    if vector is None or len(seen_idx) == 0:
        return None
    sims = art.item_embeddings[seen_idx] @ vector
    return seen_ids[int(np.argmax(sims))]


def _index_candidates(
    history: UserHistory,
    cograph: CoInteractionIndex,
    *,
    seed_items: int,
    limit: int,
    half_life_days: float,
    seen: set[str],
) -> GraphCandidates:
    """Co-interaction candidates from the in-memory index, seeded by the user's live history from the
    store by the traversal's rule 1 (:func:`graphrec.scoring.traversal.select_seeds`)."""
    pos, decayed = select_seeds(
        np.asarray(history.item_ids),
        history.weights,
        history.last_ts,
        seed_items=seed_items,
        half_life_days=half_life_days,
    )
    seeds = [history.item_ids[p] for p in pos.tolist()]
    return cograph.candidates_for_user(seeds=list(zip(seeds, decayed.tolist(), strict=True)), limit=limit, exclude=seen)


@dataclass(frozen=True, slots=True)
class Candidates:
    """Everything a user's list is ranked from, before any blend weight is applied
    (:func:`gather_candidates`); :func:`rank_candidates` turns it into the list for given weights.

    Why two steps: the new-user tuner ranks the same candidates under hundreds of weightings, and
    this way each grid point costs a re-rank, not a new embedding, ANN search and traversal."""

    history: UserHistory
    seen: frozenset[str]
    limit: int
    emb_ids: np.ndarray
    emb_scores: np.ndarray
    graph: GraphCandidates
    neighbours: NeighbourCandidates | None
    personalised: Personalised
    seen_idx: np.ndarray  # the model's index of each seen item it knows
    seen_ids_known: list[str]
    degraded: bool
    cold: ColdItems | None = None  # the content-embedded items the embedding side searched too
    content_ids: frozenset[str] = frozenset()  # the embedding side's items proposed by content alone


def gather_candidates(
    req: RecRequest,
    inputs: UserInputs,
    *,
    state: ModelState | None,
    config: ServingConfig,
    cograph: CoInteractionIndex | None = None,
    now_ms: int,
    neighbours: bool = False,
    similarity: Similarity | None = None,
    cold: ColdItems | None = None,
) -> Candidates:
    """Each source's candidates for the user: the embedding side (ANN, and ``cold``'s items when it is
    the version's table), the graph side (index or the store's traversal) and, with ``neighbours`` and
    a version that has them, the item neighbours (scored with ``similarity``; ``None``: the table's own
    cosine)."""
    history = inputs.history if inputs.history is not None else UserHistory.empty()
    seen = frozenset(history.item_ids) | inputs.seen_all
    limit = config.candidate_limit(req.k, exclude_seen=req.exclude_seen, n_seen=len(seen), left_out=len(req.leave_out))
    half_life_days, traversal = config.half_life_days, config.traversal
    emb_ids: np.ndarray = np.zeros(0, dtype=str)
    emb_scores = np.zeros(0)
    personalised: Personalised = "none"
    seen_idx = np.zeros(0, dtype=np.int64)
    seen_ids_known: list[str] = []
    nb: NeighbourCandidates | None = None
    cold = cold if cold is not None and state is not None and cold.version == state.version and len(cold) else None
    content_ids: frozenset[str] = frozenset()
    if state is not None:
        art = state.artifact
        item_idx = np.array([-1 if (i := art.item_index(s)) is None else i for s in history.item_ids], dtype=np.int64)
        known = item_idx >= 0
        seen_idx = item_idx[known]
        seen_ids_known = list(compress(history.item_ids, known.tolist()))
        exclude = seen_idx
        if inputs.seen_all:  # older seen items than the window: leave them out of the ANN too
            exclude = np.array([i for s in seen if (i := art.item_index(s)) is not None], dtype=np.int64)
        vec, personalised = _user_vector(state, req.user_id, history, item_idx, now_ms, half_life_days)
        if vec is not None:
            emb_ids, emb_scores = art.recommend(vec, limit, exclude=exclude if req.exclude_seen else None)
            if cold is not None:
                cold_ids, cold_scores = cold.nearest(vec, limit, cosine=False, exclude=seen if req.exclude_seen else ())
                emb_ids, emb_scores = merged(emb_ids, emb_scores, cold_ids, cold_scores, limit)
                content_ids = frozenset(cold_ids.tolist())
        if neighbours and state.neighbours is not None and len(history):
            pos, _ = select_seeds(
                np.asarray(history.item_ids),
                history.weights,
                history.last_ts,
                seed_items=traversal.seed_items,
                half_life_days=half_life_days,
            )
            seeds = item_idx[pos]
            nb = state.neighbours.candidates(
                seeds[seeds >= 0],
                art.item_index,
                limit=limit,
                similarity=similarity,
                exclude=exclude if req.exclude_seen else np.zeros(0, dtype=np.int64),
            )
    graph = GraphCandidates.empty()
    if len(history):
        if cograph is not None:
            graph = _index_candidates(
                history,
                cograph,
                seed_items=traversal.seed_items,
                limit=limit,
                half_life_days=half_life_days,
                seen=set(seen),
            )
        elif inputs.store_graph is not None:
            graph = inputs.store_graph
        if personalised == "none" and (len(graph) or nb is not None and len(nb)):
            personalised = "graph"
    return Candidates(
        history,
        seen,
        limit,
        emb_ids,
        emb_scores,
        graph,
        nb,
        personalised,
        seen_idx,
        seen_ids_known,
        inputs.degraded,
        cold,
        content_ids,
    )


def recommend_for_user(
    req: RecRequest,
    inputs: UserInputs,
    *,
    state: ModelState | None,
    view: CatalogView,
    config: ServingConfig,
    cograph: CoInteractionIndex | None = None,
    now_ms: int | None = None,
    cold: ColdItems | None = None,
) -> RecResult:
    """Pure computing over what was read (:class:`UserInputs`): no store access, no blocking. ``cold``:
    the catalogue items the version never saw, placed by content (:mod:`graphrec.recommend.cold_items`)."""
    now_ms = clock.now_ms() if now_ms is None else now_ms
    history_length = len(inputs.history) if inputs.history is not None else 0
    weights = _blend_weights(state, req.user_id, history_length, config.default_alpha)
    cands = gather_candidates(
        req,
        inputs,
        state=state,
        config=config,
        cograph=cograph,
        now_ms=now_ms,
        neighbours=weights.gamma > 0,
        similarity=weights.similarity,
        cold=cold,
    )
    return rank_candidates(req, cands, weights, state=state, view=view, now_ms=now_ms)


def rank_candidates(
    req: RecRequest,
    cands: Candidates,
    weights: HistoryWeights,
    *,
    state: ModelState | None,
    view: CatalogView,
    now_ms: int,
) -> RecResult:
    """The list of ``cands`` blended with ``weights``: blend, filters, diversity, explanations (no I/O).
    A source with no candidates passes its weight to the others; no candidates at all: trending."""
    emb_ids, emb_scores, graph, nb = cands.emb_ids, cands.emb_scores, cands.graph, cands.neighbours
    seen, degraded = set(cands.seen), cands.degraded
    has_nb = nb is not None and len(nb) > 0 and weights.gamma > 0  # gathered or not, gamma 0 leaves them out
    if not len(emb_ids) and not len(graph) and not has_nb:
        return _popular_result(req, view, seen, state, degraded, now_ms)
    graph_side = len(graph) > 0 or has_nb
    alpha = 0.0 if not len(emb_ids) else (1.0 if not graph_side else weights.alpha)
    gamma = 0.0 if not has_nb else (1.0 if not len(graph) else weights.gamma)
    prior = state.artifact.popular(cands.limit) if state is not None and weights.beta > 0 else None
    blended = blend(
        emb_ids,
        emb_scores,
        graph.ids,
        graph.scores,
        alpha,
        prior=prior,
        beta=weights.beta,
        neighbours=(nb.ids, nb.scores) if nb is not None and gamma > 0 else None,
        gamma=gamma,
        unconnected=cands.content_ids,
    )
    mmr_state = state if req.diversity > 0 else None  # MMR needs the model's item vectors
    pool = _pool(blended, req, seen, view, diversify=mmr_state is not None)
    if not pool:
        return _popular_result(req, view, seen, state, degraded, now_ms)
    picked = pool if mmr_state is None else _diversify(pool, blended, req, mmr_state, cands.cold)
    ids, scores, sources = blended.ids.tolist(), blended.scores.tolist(), blended.sources.tolist()
    parts = _parts_lookup(emb_ids, emb_scores, graph, nb if gamma > 0 else None, alpha, gamma) if req.explain else None
    items = []
    for p in picked:
        item_id, source = ids[p], SOURCES[sources[p]]
        reasons: list[str] = []
        evidence: tuple[str, ...] = ()
        if req.explain and source == "popular":
            reasons.append(explain.prior_reason())
        elif req.explain:
            if source != "embedding":
                evidence = graph.evidence(item_id) or (nb.evidence(item_id) if nb is not None and gamma > 0 else ())
            if evidence:
                reasons.append(explain.graph_reason(evidence, view.title))
            if source != "graph" and state is not None:
                anchor = _anchor(state, item_id, cands.seen_idx, cands.seen_ids_known, cands.cold)
                if item_id in cands.content_ids:
                    reasons.append(explain.content_reason(anchor, view.title))
                elif anchor is not None:
                    reasons.append(explain.embedding_reason(anchor, view.title))
            if not reasons:
                reasons.append("close to your taste profile learned from your interactions")
        items.append(
            RecItem(
                item_id,
                view.title(item_id),
                round(scores[p], 6),
                source,
                tuple(reasons),
                parts(item_id) if parts is not None else None,
                evidence,
            )
        )
    return _result(items, state, failed=degraded, personalised=cands.personalised)


def _blend_weights(
    state: ModelState | None,
    user_id: str,
    history_length: int,
    default_alpha: float,
) -> HistoryWeights:
    """The blend of this user: by history length for a user the version has never seen (tuned by the
    new-user protocol, ``BlendParams.weights_for``), the version's alpha for everyone else."""
    if state is None:
        return HistoryWeights(default_alpha)
    return state.blend.weights_for(history_length, new_user=state.artifact.user_index(user_id) is None)


def _result(
    items: list[RecItem],
    state: ModelState | None,
    *,
    failed: bool,
    cold_start: bool = False,
    personalised: Personalised = "none",
    needs_model: bool = True,
) -> RecResult:
    """A list as served, with the one rule of degradation: an answer is ``degraded`` when a source could
    not be read (``failed``: the store was down or late) or, for a strategy that ranks with the model
    (``needs_model``; an experiment's trending-only arm does not), no model version is published."""
    degraded = failed or (needs_model and state is None)
    return RecResult(items, state.version if state else None, degraded, cold_start, personalised, _mix(items))


def _mix(items: list[RecItem]) -> dict[str, int]:
    mix: dict[str, int] = {}
    for it in items:
        mix[it.source] = mix.get(it.source, 0) + 1
    return mix


def _pool(blended: Blended, req: RecRequest, seen: set[str], view: CatalogView, *, diversify: bool) -> list[int]:
    """Positions of the best blended items that pass the filters: ``k`` of them, or ``5k`` for MMR
    to choose from. Both sources already leave out the seen items, so the scan is short."""
    size = max(req.k * 5, req.k) if diversify else req.k
    skip = Skip(seen if req.exclude_seen else frozenset(), req.leave_out)
    flt = req.filter
    if not flt.narrows and not view.unavailable:
        head = blended.ids[: size + (len(seen) if req.exclude_seen else 0) + len(req.leave_out)].tolist()
        return [p for p, item_id in enumerate(head) if item_id not in skip][:size]
    pool: list[int] = []
    for p, item_id in enumerate(blended.ids.tolist()):
        if item_id in skip or not flt.admits(view, item_id):
            continue
        pool.append(p)
        if len(pool) == size:
            break
    return pool


def _diversify(
    pool: list[int], blended: Blended, req: RecRequest, state: ModelState, cold: ColdItems | None = None
) -> list[int]:
    art = state.artifact
    vecs = np.zeros((len(pool), art.item_embeddings.shape[1]), dtype=np.float32)
    for row, item_id in enumerate(blended.ids[pool].tolist()):
        i = art.item_index(item_id)
        if i is not None:
            vecs[row] = art.item_embeddings[i]
        elif cold is not None and (v := cold.vector(item_id)) is not None:
            vecs[row] = v
    order = mmr(blended.scores[pool], vecs, req.k, req.diversity)
    return [pool[o] for o in order]


def _popular_result(
    req: RecRequest,
    view: CatalogView,
    seen: set[str],
    state: ModelState | None,
    degraded: bool,
    now_ms: int,
    *,
    needs_model: bool = True,
) -> RecResult:
    unseen = seen if req.exclude_seen else frozenset()
    flt = req.filter
    admits = flt.per_item(view)
    ranked = view.trending(req.category, req.k, exclude=Skip(unseen, req.leave_out), where=admits)
    if not ranked and not view.popular and degraded:
        raise NothingToServe("the graph store is unreachable and no model or cached popular items exist")
    if req.leave_out:  # scores stay relative to the list's top item, which an earlier page may have served
        head = view.trending(req.category, 1, exclude=unseen, where=admits)
        top = head[0][1] if head else 1.0
    else:
        top = ranked[0][1] if ranked else 1.0
    reason = (explain.popular_reason(req.category),) if req.explain else ()
    items = [RecItem(i, view.title(i), round(s / top if top else 0.0, 6), "popular", reason) for i, s in ranked]
    return _result(items, state, failed=degraded, cold_start=True, needs_model=needs_model)


def similar_items(
    item_id: str,
    k: int,
    *,
    store: GraphStore,
    state: ModelState | None,
    view: CatalogView,
    config: ServingConfig,
    explain_: bool = False,
    cograph: CoInteractionIndex | None = None,
    store_up: bool = True,
    leave_out: LeaveOut | None = None,
    filters: ListFilter | None = None,
    cold: ColdItems | None = None,
) -> RecResult:
    """Embedding neighbours blended with co-interaction neighbours of ``item_id``, without ``leave_out``
    and with only items ``filters`` admits (unavailable ones never).

    ``cold`` (the version's table of items it never saw, :mod:`graphrec.recommend.cold_items`): its
    items are embedding neighbours too, by the same cosine, and an ``item_id`` in it is compared by its
    content embedding; either way the explanation says content-based.
    ``store_up=False`` (the store is known to be down): the store's traversal is not tried."""
    leave_out = leave_out if leave_out is not None else LeaveOut()
    flt = filters if filters is not None else ListFilter()
    wanted = config.similar_limit(k, left_out=len(leave_out))
    fanout = config.traversal.fanout
    degraded = False
    emb_ids: np.ndarray = np.zeros(0, dtype=str)
    emb_scores = np.zeros(0)
    content_ids: frozenset[str] = frozenset()  # items placed by content alone
    anchor_by_content = False  # the item itself is one: every embedding neighbour is found by its content
    if state is not None:
        art = state.artifact
        cold = cold if cold is not None and cold.version == state.version and len(cold) else None
        i = art.item_index(item_id)
        query = art.item_embeddings[i] if i is not None else cold.vector(item_id) if cold is not None else None
        if i is not None:
            emb_ids, emb_scores = art.similar(i, wanted)
        elif query is not None:
            emb_ids, emb_scores = art.similar_to(query, wanted)
            anchor_by_content = True
        if query is not None and cold is not None:
            cold_ids, cold_scores = cold.nearest(query, wanted, cosine=True, exclude=(item_id,))
            emb_ids, emb_scores = merged(emb_ids, emb_scores, cold_ids, cold_scores, wanted)
            content_ids = frozenset(cold_ids.tolist())
    graph = GraphCandidates.empty()
    graph_as_of_ms: int | None = None
    try:
        if cograph is not None and item_id in cograph.item_lookup:
            cands = cograph.candidates_for_item(item_id=item_id, limit=wanted, fanout=fanout)
            graph_as_of_ms = cograph.built_at_ms
        elif store_up:
            cands = store.co_interaction_candidates_for_item(item_id=item_id, limit=wanted, fanout=fanout)
        else:
            raise StoreUnavailable("the graph store is down")
        graph = GraphCandidates.from_list(cands)
    except StoreUnavailable as exc:
        logger.warning("store traversal failed for item %s; degrading: %s", item_id, exc)
        degraded = True
    if degraded and not len(emb_ids):
        raise NothingToServe("the graph store is unreachable and the model does not know this item")
    alpha = state.blend.alpha if state is not None else config.default_alpha
    alpha = 0.0 if not len(emb_ids) else (1.0 if not len(graph) else alpha)
    # an item placed by content has no interactions: the graph's silence is not against it (scoring.blend)
    blended = blend(emb_ids, emb_scores, graph.ids, graph.scores, alpha, unconnected=content_ids)
    parts = _parts_lookup(emb_ids, emb_scores, graph, None, alpha) if explain_ else None
    items = []
    for other, score, code in zip(blended.ids.tolist(), blended.scores.tolist(), blended.sources.tolist(), strict=True):
        if other == item_id or other in leave_out or not flt.admits(view, other):
            continue
        source = SOURCES[code]
        reasons: tuple[str, ...] = ()
        if explain_:
            r = []
            if source != "embedding":
                r.append(explain.co_item_reason(item_id, view.title))
            if source != "graph":
                by_content = anchor_by_content or other in content_ids
                r.append(
                    (explain.content_similar_reason if by_content else explain.similar_item_reason)(item_id, view.title)
                )
            reasons = tuple(r)
        items.append(
            RecItem(
                other, view.title(other), round(score, 6), source, reasons, parts(other) if parts is not None else None
            )
        )
        if len(items) == k:
            break
    return dataclasses.replace(_result(items, state, failed=degraded), graph_as_of_ms=graph_as_of_ms)


def popular_for_user(
    req: RecRequest, inputs: UserInputs, *, state: ModelState | None, view: CatalogView, now_ms: int
) -> RecResult:
    """Trending items only, the user's seen items left out: an experiment's ``popular`` arm."""
    history = inputs.history if inputs.history is not None else UserHistory.empty()
    seen = set(history.item_ids) | inputs.seen_all
    result = _popular_result(req, view, seen, state, inputs.degraded, now_ms, needs_model=False)
    return dataclasses.replace(result, cold_start=False)


SESSION_MAX_HISTORY = 20  # a visitor with more history than this is served by the model and the graph alone
SESSION_SHARE = 0.25


def mix_session_candidates(
    result: RecResult,
    req: RecRequest,
    history: UserHistory,
    view: CatalogView,
    prediction: Sequence[tuple[str, float]],
    *,
    current: Sequence[str] = (),
    share: float = SESSION_SHARE,
) -> RecResult:
    """The session-based candidate source for anonymous visitors: the last ``share`` of the list goes to
    trending items of the categories the visitor will likely look at next (``prediction``, from the
    next-category model), in proportion to their probabilities (largest remainders).

    Why only the tail: the model and the graph know the visitor's items; the chain only knows where
    sessions that passed through the same category went next. It matters most for thin histories, so
    it is used up to :data:`SESSION_MAX_HISTORY` edges, and never under a category filter."""
    if req.category is not None or not prediction or not 0 < len(history) <= SESSION_MAX_HISTORY:
        return result
    flt = req.filter
    admits = flt.per_item(view)
    slots = max(1, round(req.k * share))
    kept = result.items[: max(0, req.k - slots)] if len(result.items) >= req.k else list(result.items)
    slots = req.k - len(kept)
    if slots <= 0:
        return result
    total = sum(p for _, p in prediction)
    raw = [slots * p / total for _, p in prediction] if total > 0 else [0.0] * len(prediction)
    quota = [int(q) for q in raw]
    for j in sorted(range(len(raw)), key=lambda j: (-(raw[j] - quota[j]), j))[: slots - sum(quota)]:
        quota[j] += 1
    taken = {i.item_id for i in kept}
    skip = (set(history.item_ids) if req.exclude_seen else set()) | taken
    floor = kept[-1].score if kept else 1.0
    added: list[RecItem] = []
    where = ", ".join(current) or "this"
    for (category, p), n in zip(prediction, quota, strict=True):
        if n <= 0:
            continue
        for item, _ in view.trending(category, n, exclude=Skip(skip, req.leave_out), where=admits):
            skip.add(item)
            reason = (
                (f"visitors looking at {where} often go on to {category} ({p:.0%} of such steps)",)
                if req.explain
                else ()
            )
            added.append(RecItem(item, view.title(item), 0.0, "session", reason))
    if not added:
        return result
    step = floor / (len(added) + 1) if floor > 0 else 0.0
    added = [dataclasses.replace(it, score=round(floor - step * (j + 1), 6)) for j, it in enumerate(added)]
    items = kept + added
    return dataclasses.replace(result, items=items, source_mix=_mix(items))
