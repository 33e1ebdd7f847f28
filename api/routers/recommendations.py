"""``GET /v1/users/{user_id}/recommendations`` and the anonymous-visitor variant.

Blends embedding (ANN) and graph-traversal candidates with the model version's tuned weight;
unknown users get trending items (``cold_start: true``); ``degraded: true`` when a source failed or
no model is published. 503 only when nothing at all can be served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status

from api.blocking import run_blocking
from api.deps import SettingsDep, StoreDep, read_access
from api.errors import error_item
from api.routing import id_path
from api.schemas.errors import error_responses
from api.schemas.recommend import RecommendationsPublic, RecommendedItemPublic, ScorePartsPublic
from graphrec.events.schema import ANON_PREFIX, anonymous_node_id
from graphrec.graph.errors import StoreUnavailable
from graphrec.ids import Identifier
from graphrec.recommend.cograph import CoInteractionIndex
from graphrec.recommend.service import (
    HISTORY_LIMIT,
    NothingToServe,
    RecRequest,
    RecResult,
    TraversalLimits,
    UserInputs,
    recommend_for_user,
    traversal_inputs,
)

logger = logging.getLogger(__name__)

router = APIRouter(
    tags=["recommendations"],
    dependencies=[Depends(read_access)],
    responses=error_responses(401, 422, 429, 503),
)

K = Annotated[int, Query(ge=1, le=100, description="how many items")]
Diversity = Annotated[float, Query(ge=0.0, le=1.0, description="0 = pure relevance, 1 = maximal spread (MMR)")]


def to_public(result: RecResult, explain: bool) -> list[RecommendedItemPublic]:
    return [RecommendedItemPublic(
        item_id=i.item_id, title=i.title, score=i.score, source=i.source,
        reasons=list(i.reasons) if explain else None,
        scores=ScorePartsPublic(embedding=i.parts.embedding, graph=i.parts.graph, alpha=i.parts.alpha)
        if explain and i.parts is not None else None,
        evidence=list(i.evidence) if explain and i.evidence else None) for i in result.items]


def check_category(request: Request, category: str | None) -> None:
    if category is None:
        return
    view = request.app.state.catalog.view
    if category not in view.category_names:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            [error_item(None, "category", f"unknown category '{category}'")])


def record(request: Request, endpoint: str, result: RecResult) -> None:
    metrics = request.app.state.metrics
    for source, n in result.source_mix.items():
        metrics.sources.labels(endpoint, source).inc(n)
    if result.degraded:
        metrics.degraded.labels(endpoint).inc()


async def _read_inputs(request: Request, store: StoreDep, node_id: str, req: RecRequest, settings: SettingsDep,
                       cograph: CoInteractionIndex | None, traversal: TraversalLimits, now_ms: int) -> UserInputs:
    """The user's history, awaited on the loop; the store's traversal (on a thread) only without an index.

    Bounded: while the store is known to be down it is not asked at all, and a read that takes
    longer than ``history_timeout_s`` is abandoned; either way the answer is degraded, not late.
    """
    health = request.app.state.store_health
    if not health.up:
        return UserInputs(None, None, True)
    try:
        history = await asyncio.wait_for(
            request.app.state.history.user_history(user_id=node_id, limit=HISTORY_LIMIT),
            timeout=settings.history_timeout_s)
    except StoreUnavailable as exc:
        health.failed(str(exc))
        logger.warning("store unavailable reading %s's history; degrading: %s", node_id, exc)
        return UserInputs(None, None, True)
    except TimeoutError:
        logger.warning("history of %s not read within %.2f s; degrading", node_id, settings.history_timeout_s)
        health.slow(f"history reads over {settings.history_timeout_s:g} s")
        return UserInputs(None, None, True)
    health.answered()
    seen_all: frozenset[str] = frozenset()
    if req.exclude_seen and len(history) >= HISTORY_LIMIT:  # cut at the window: read what else was seen
        try:
            seen_all = await asyncio.wait_for(request.app.state.history.user_item_ids(user_id=node_id),
                                              timeout=settings.history_timeout_s)
        except (StoreUnavailable, TimeoutError) as exc:
            logger.warning("seen items of %s not read (%s); degrading", node_id, exc)
            return UserInputs(history, None, True)
    if cograph is not None or not len(history):
        return UserInputs(history, seen_all=seen_all)
    return await run_blocking(request, traversal_inputs, store, node_id, history, k=req.k,
                              exclude_seen=req.exclude_seen, top_n=settings.candidates_per_source,
                              traversal=traversal, now_ms=now_ms, half_life_days=settings.half_life_days,
                              seen_all=seen_all)


async def _recommend(request: Request, node_id: str, public_id: str, store: StoreDep, settings: SettingsDep,
                     req: RecRequest) -> RecommendationsPublic:
    check_category(request, req.category)
    state = request.app.state.models.state  # read once: a hot swap cannot change it mid-request
    cograph = request.app.state.cograph.index
    traversal = TraversalLimits(settings.traversal_seed_items, settings.traversal_fanout)
    now_ms = int(time.time() * 1000)
    inputs = await _read_inputs(request, store, node_id, req, settings, cograph, traversal, now_ms)
    try:  # about a millisecond of numpy on the loop: cheaper than handing it to a GIL-bound thread
        result = recommend_for_user(
            RecRequest(node_id, req.k, req.exclude_seen, req.category, req.diversity, req.explain), inputs,
            state=state, view=request.app.state.catalog.view, default_alpha=settings.blend_default_alpha,
            half_life_days=settings.half_life_days, top_n=settings.candidates_per_source, cograph=cograph,
            traversal=traversal, now_ms=now_ms)
    except NothingToServe as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "5"}) from None
    record(request, "user", result)
    return RecommendationsPublic(
        user_id=public_id, model_version=result.model_version, degraded=result.degraded,
        cold_start=result.cold_start, personalised_from=result.personalised_from,  # type: ignore[arg-type]
        data=to_public(result, req.explain), count=len(result.items))


def _no_anon(value: str) -> str:
    if value.startswith(ANON_PREFIX):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [error_item(
            None, "user_id", "user ids may not start with 'anon:'; use /v1/anonymous/{anonymous_id}/...")])
    return value


@router.get(id_path("/users/{user_id}/recommendations"), response_model=RecommendationsPublic)
async def user_recommendations(
    request: Request, store: StoreDep, settings: SettingsDep,
    user_id: Annotated[Identifier, Path()],
    k: K = 20, exclude_seen: bool = True, category: Annotated[str | None, Query(max_length=256)] = None,
    diversity: Diversity = 0.0, explain: bool = False,
) -> RecommendationsPublic:
    """Top-k items for a user: blended embedding + graph candidates, trending items for unknown users."""
    _no_anon(user_id)
    return await _recommend(request, user_id, user_id, store, settings,
                            RecRequest(user_id, k, exclude_seen, category, diversity, explain))


@router.get(id_path("/anonymous/{anonymous_id}/recommendations"), response_model=RecommendationsPublic)
async def anonymous_recommendations(
    request: Request, store: StoreDep, settings: SettingsDep,
    anonymous_id: Annotated[Identifier, Path()],
    k: K = 20, exclude_seen: bool = True, category: Annotated[str | None, Query(max_length=256)] = None,
    diversity: Diversity = 0.0, explain: bool = False,
) -> RecommendationsPublic:
    """Top-k items for an anonymous visitor from their session events (trending until they have some)."""
    node = anonymous_node_id(anonymous_id)
    return await _recommend(request, node, anonymous_id, store, settings,
                            RecRequest(node, k, exclude_seen, category, diversity, explain))
