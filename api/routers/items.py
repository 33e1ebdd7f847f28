"""``/v1/items``: similar items and trending items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from api.deps import CatalogDep, MetricsDep, RecommenderDep, read_access
from api.routers.recommendations import K, nothing_to_serve, record, to_public, unknown_category
from api.routing import id_path
from api.schemas.errors import error_responses
from api.schemas.recommend import PopularItemsPublic, RecommendedItemPublic, SimilarItemsPublic
from graphrec.ids import Identifier
from graphrec.recommend.explain import popular_reason
from graphrec.recommend.popular import UnknownCategory, check_category
from graphrec.recommend.recommender import UnknownItem
from graphrec.recommend.service import NothingToServe

router = APIRouter(
    prefix="/items", tags=["items"], dependencies=[Depends(read_access)],
    responses=error_responses(401, 422, 429, 503),
)


@router.get("/popular", response_model=PopularItemsPublic)
def popular_items(
    catalog: CatalogDep, k: K = 20, category: Annotated[str | None, Query(max_length=256)] = None,
    explain: bool = False,
) -> PopularItemsPublic:
    """Trending items (recency-decayed interaction weight), overall or in one category."""
    view = catalog.view
    try:
        check_category(view, category)
    except UnknownCategory as exc:
        raise unknown_category(exc) from None
    ranked = view.trending(category, k)
    top = ranked[0][1] if ranked else 1.0
    data = [RecommendedItemPublic(item_id=i, title=view.title(i), score=round(s / top, 6), source="popular",
                                  reasons=[popular_reason(category)] if explain else None) for i, s in ranked]
    return PopularItemsPublic(category=category, data=data, count=len(data), built_ms=view.built_ms)


@router.get(id_path("/{item_id}/similar"), response_model=SimilarItemsPublic,
            responses=error_responses(404))
async def similar(
    recommender: RecommenderDep, metrics: MetricsDep,
    item_id: Annotated[Identifier, Path()], k: K = 20, explain: bool = False,
) -> SimilarItemsPublic:
    """Items like this one: embedding neighbours blended with co-interaction neighbours."""
    try:
        result = await recommender.similar(item_id, k, explain=explain)
    except UnknownItem as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except NothingToServe as exc:
        raise nothing_to_serve(exc) from None
    record(metrics, "similar", result)
    return SimilarItemsPublic(item_id=item_id, model_version=result.model_version, degraded=result.degraded,
                              data=to_public(result, explain), count=len(result.items))
