"""``/v1/items``: similar items and trending items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from api.blocking import run_blocking
from api.deps import SettingsDep, StoreDep, read_access
from api.routers.recommendations import K, check_category, record, to_public
from api.routing import id_path
from api.schemas.errors import error_responses
from api.schemas.recommend import PopularItemsPublic, RecommendedItemPublic, SimilarItemsPublic
from graphrec.graph.errors import StoreUnavailable
from graphrec.ids import Identifier
from graphrec.recommend.explain import popular_reason
from graphrec.recommend.service import NothingToServe, TraversalLimits, similar_items

router = APIRouter(
    prefix="/items", tags=["items"], dependencies=[Depends(read_access)],
    responses=error_responses(401, 422, 429, 503),
)


@router.get("/popular", response_model=PopularItemsPublic)
def popular_items(
    request: Request, k: K = 20, category: Annotated[str | None, Query(max_length=256)] = None,
    explain: bool = False,
) -> PopularItemsPublic:
    """Trending items (recency-decayed interaction weight), overall or in one category."""
    check_category(request, category)
    view = request.app.state.catalog.view
    ranked = view.trending(category, k)
    top = ranked[0][1] if ranked else 1.0
    data = [RecommendedItemPublic(item_id=i, title=view.title(i), score=round(s / top, 6), source="popular",
                                  reasons=[popular_reason(category)] if explain else None) for i, s in ranked]
    return PopularItemsPublic(category=category, data=data, count=len(data), built_ms=view.built_ms)


def _item_known(request: Request, store: StoreDep, item_id: str) -> bool:
    state = request.app.state.models.state
    if state is not None and state.artifact.item_index(item_id) is not None:
        return True
    if item_id in request.app.state.catalog.view.titles:
        return True
    if not request.app.state.store_health.up:  # cannot tell "unknown" from "unreachable": 503, not 404
        raise StoreUnavailable("the graph store is down; cannot look the item up")
    return store.item_exists(item_id=item_id)


@router.get(id_path("/{item_id}/similar"), response_model=SimilarItemsPublic,
            responses=error_responses(404))
async def similar(
    request: Request, store: StoreDep, settings: SettingsDep,
    item_id: Annotated[Identifier, Path()], k: K = 20, explain: bool = False,
) -> SimilarItemsPublic:
    """Items like this one: embedding neighbours blended with co-interaction neighbours."""
    if not await run_in_threadpool(_item_known, request, store, item_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown item '{item_id}'")
    state = request.app.state.models.state
    try:
        result = await run_blocking(
            request, similar_items, item_id, k, store=store, state=state, view=request.app.state.catalog.view,
            default_alpha=settings.blend_default_alpha, top_n=settings.candidates_per_source, explain_=explain,
            cograph=request.app.state.cograph.index,
            traversal=TraversalLimits(settings.traversal_seed_items, settings.traversal_fanout),
            store_up=request.app.state.store_health.up)
    except NothingToServe as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "5"}) from None
    record(request, "similar", result)
    return SimilarItemsPublic(item_id=item_id, model_version=result.model_version, degraded=result.degraded,
                              data=to_public(result, explain), count=len(result.items))
