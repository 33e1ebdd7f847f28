"""``/v1/items``: similar items and trending items (``exclude=`` and cursor pages as in :mod:`api.pages`).

The catalogue's own ``/v1/items`` routes (listing, details, upserts) are in :mod:`api.routers.catalogue`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from api.deps import CatalogDep, MetricsDep, RecommenderDep, SettingsDep, read_access
from api.pages import RANKING_CHANGED, CursorQuery, ExcludeQuery, close_page, list_key, open_page
from api.routers.recommendations import K, described, nothing_to_serve, record, to_public, unknown_category
from api.routing import id_path
from api.schemas.errors import error_responses
from api.schemas.recommend import PopularItemsPublic, RecommendedItemPublic, SimilarItemsPublic
from graphrec.ids import Identifier
from graphrec.recommend.explain import popular_reason
from graphrec.recommend.popular import UnknownCategory, check_category
from graphrec.recommend.ranking import NothingToServe
from graphrec.recommend.recommender import UnknownItem

router = APIRouter(
    prefix="/items",
    tags=["items"],
    dependencies=[Depends(read_access)],
    responses=error_responses(401, 422, 429, 503),
)


@router.get("/popular", response_model=PopularItemsPublic)
def popular_items(
    catalog: CatalogDep,
    settings: SettingsDep,
    k: K = 20,
    category: Annotated[str | None, Query(max_length=256)] = None,
    explain: bool = False,
    exclude: ExcludeQuery = None,
    cursor: CursorQuery = None,
) -> PopularItemsPublic:
    """Trending items (distinct recent actors, capped per client, catalogued items only), overall or in one category."""
    view = catalog.view
    page = open_page(settings, key=list_key("popular", category), cursor=cursor, exclude=exclude, k=k)
    try:
        check_category(view, category)
    except UnknownCategory as exc:
        raise unknown_category(exc) from None
    ranked = view.trending(category, page.k, exclude=page.leave_out)
    # Scores are relative to the list's top item, which earlier pages may have served: the view's.
    top_list = view.trending(category, 1)
    top = top_list[0][1] if top_list else 1.0
    data = [
        RecommendedItemPublic(
            item_id=i,
            title=view.title(i),
            score=round(s / top, 6) if top else 0.0,
            source="popular",
            reasons=[popular_reason(category)] if explain else None,
            **described(view, i),
        )
        for i, s in ranked
    ]
    # Trending lists are rebuilt every minute without a model version: pages never 409, never repeat.
    next_cursor = close_page(settings, page, item_ids=[d.item_id for d in data], model_version=None, versioned=False)
    return PopularItemsPublic(
        category=category, data=data, count=len(data), built_ms=view.built_ms, next_cursor=next_cursor
    )


@router.get(
    id_path("/{item_id}/similar"),
    response_model=SimilarItemsPublic,
    responses=error_responses(404, 409, e409=RANKING_CHANGED),
)
async def similar(
    recommender: RecommenderDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    item_id: Annotated[Identifier, Path()],
    k: K = 20,
    explain: bool = False,
    exclude: ExcludeQuery = None,
    cursor: CursorQuery = None,
) -> SimilarItemsPublic:
    """Items like this one: embedding neighbours blended with co-interaction neighbours."""
    page = open_page(settings, key=list_key("similar", item_id), cursor=cursor, exclude=exclude, k=k)
    try:
        result = await recommender.similar(item_id, page.k, explain=explain, leave_out=page.leave_out)
    except UnknownItem as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except NothingToServe as exc:
        raise nothing_to_serve(exc) from None
    next_cursor = close_page(
        settings, page, item_ids=[i.item_id for i in result.items], model_version=result.model_version
    )
    record(metrics, "similar", result)
    return SimilarItemsPublic(
        item_id=item_id,
        model_version=result.model_version,
        degraded=result.degraded,
        data=to_public(result, explain, catalog.view),
        count=len(result.items),
        next_cursor=next_cursor,
    )
