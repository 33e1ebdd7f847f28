"""``GET /v1/users/{user_id}/recommendations`` and the anonymous-visitor variant.

Blends embedding (ANN) and graph-traversal candidates with the model version's tuned weight;
unknown users get trending items (``cold_start: true``); a publishable key reads a user's list only with
that user's token (:class:`api.deps.Caller`); ``degraded: true`` when a source failed or
no model is published. 503 only when nothing at all can be served. ``exclude=`` ids are never
returned; ``next_cursor`` pages through the list (:mod:`api.pages`); each item carries the
catalogue's categories and links from the in-memory catalogue view.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from api.deps import CallerDep, CatalogDep, MetricsDep, RecommenderDep, SettingsDep, read_access
from api.errors import error_item
from api.observability import Metrics
from api.pages import RANKING_CHANGED, CursorQuery, ExcludeQuery, close_page, list_key, open_page, ranking_changed
from api.routing import id_path
from api.schemas.errors import ErrorPublic, error_responses
from api.schemas.recommend import RecommendationsPublic, RecommendedItemPublic, ScorePartsPublic
from graphrec.config import Settings
from graphrec.ids import Identifier, UserIdentifier, anonymous_node_id
from graphrec.recommend.popular import CatalogCache, CatalogView, UnknownCategory
from graphrec.recommend.ranking import NothingToServe, RankingChanged, RecRequest, RecResult
from graphrec.recommend.recommender import Recommender

router = APIRouter(
    tags=["recommendations"],
    dependencies=[Depends(read_access)],
    responses=error_responses(401, 409, 422, 429, 503, e409=RANKING_CHANGED),
)

USER_TOKEN_403 = {
    "model": ErrorPublic,
    "description": "a publishable key's user token is for another user (or the server verifies no user tokens)",
}
K = Annotated[int, Query(ge=1, le=100, description="how many items")]
Diversity = Annotated[float, Query(ge=0.0, le=1.0, description="0 = pure relevance, 1 = maximal spread (MMR)")]


def described(view: CatalogView, item_id: str) -> dict[str, object]:
    """The catalogue's categories and links of an item, as a listed item carries them."""
    categories, (url, image_url, price, currency) = view.details(item_id)
    return {"categories": list(categories), "url": url, "image_url": image_url, "price": price, "currency": currency}


def to_public(result: RecResult, explain: bool, view: CatalogView) -> list[RecommendedItemPublic]:
    return [
        RecommendedItemPublic(
            item_id=i.item_id,
            title=i.title,
            score=i.score,
            source=i.source,
            reasons=list(i.reasons) if explain else None,
            scores=ScorePartsPublic(
                embedding=i.parts.embedding,
                graph=i.parts.graph,
                alpha=i.parts.alpha,
                neighbours=i.parts.neighbours,
                gamma=i.parts.gamma,
            )
            if explain and i.parts is not None
            else None,
            evidence=list(i.evidence) if explain and i.evidence else None,
            **described(view, i.item_id),
        )
        for i in result.items
    ]


def unknown_category(exc: UnknownCategory) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [error_item(None, "category", str(exc))])


def nothing_to_serve(exc: NothingToServe) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "5"})


def record(metrics: Metrics, endpoint: str, result: RecResult) -> None:
    for source, n in result.source_mix.items():
        metrics.sources.labels(endpoint, source).inc(n)
    if result.degraded:
        metrics.degraded.labels(endpoint).inc()


async def _recommend(
    recommender: Recommender,
    metrics: Metrics,
    settings: Settings,
    view_of: CatalogCache,
    req: RecRequest,
    public_id: str,
    *,
    kind: str,
    exclude: list[str] | None,
    cursor: str | None,
) -> RecommendationsPublic:
    page = open_page(
        settings,
        key=list_key(kind, public_id, req.category, req.exclude_seen, req.diversity),
        cursor=cursor,
        exclude=exclude,
        k=req.k,
    )
    req = replace(
        req, k=page.k, leave_out=page.leave_out, continues=page.continued, continued_version=page.model_version
    )
    try:
        result = await recommender.for_user(req)
    except RankingChanged:
        raise ranking_changed() from None
    except UnknownCategory as exc:
        raise unknown_category(exc) from None
    except NothingToServe as exc:
        raise nothing_to_serve(exc) from None
    next_cursor = close_page(
        settings, page, item_ids=[i.item_id for i in result.items], model_version=result.model_version
    )
    record(metrics, "user", result)
    return RecommendationsPublic(
        user_id=public_id,
        model_version=result.model_version,
        degraded=result.degraded,
        cold_start=result.cold_start,
        personalised_from=result.personalised_from,
        recommendation_id=result.recommendation_id,
        experiment=result.experiment,
        arm=result.arm,
        data=to_public(result, req.explain, view_of.view),
        count=len(result.items),
        next_cursor=next_cursor,
    )


@router.get(
    id_path("/users/{user_id}/recommendations"),
    response_model=RecommendationsPublic,
    responses=error_responses(403, e403=USER_TOKEN_403),
)
async def user_recommendations(
    recommender: RecommenderDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    caller: CallerDep,
    user_id: Annotated[UserIdentifier, Path()],
    k: K = 20,
    exclude_seen: bool = True,
    category: Annotated[str | None, Query(max_length=256)] = None,
    diversity: Diversity = 0.0,
    explain: bool = False,
    exclude: ExcludeQuery = None,
    cursor: CursorQuery = None,
) -> RecommendationsPublic:
    """Top-k items for a user: blended embedding + graph candidates, trending items for unknown users."""
    caller.require(user_id)  # a publishable key: only with this user's token (explain shows their history)
    return await _recommend(
        recommender,
        metrics,
        settings,
        catalog,
        RecRequest(user_id, k, exclude_seen, category, diversity, explain),
        user_id,
        kind="user",
        exclude=exclude,
        cursor=cursor,
    )


@router.get(id_path("/anonymous/{anonymous_id}/recommendations"), response_model=RecommendationsPublic)
async def anonymous_recommendations(
    recommender: RecommenderDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    anonymous_id: Annotated[Identifier, Path()],
    k: K = 20,
    exclude_seen: bool = True,
    category: Annotated[str | None, Query(max_length=256)] = None,
    diversity: Diversity = 0.0,
    explain: bool = False,
    exclude: ExcludeQuery = None,
    cursor: CursorQuery = None,
) -> RecommendationsPublic:
    """Top-k items for an anonymous visitor from their session events (trending until they have some)."""
    node = anonymous_node_id(anonymous_id)
    return await _recommend(
        recommender,
        metrics,
        settings,
        catalog,
        RecRequest(node, k, exclude_seen, category, diversity, explain),
        anonymous_id,
        kind="anonymous",
        exclude=exclude,
        cursor=cursor,
    )
