"""``GET /v1/users/{user_id}/recommendations`` and the anonymous-visitor variant.

Blends embedding (ANN) and graph-traversal candidates with the model version's tuned weight;
unknown users get trending items (``cold_start: true``); a publishable key reads a user's list only with
that user's token (:class:`api.deps.Caller`); ``degraded: true`` when a source failed or
no model is published. 503 only when nothing at all can be served. ``exclude=`` ids are never
returned; ``next_cursor`` pages through the list (:mod:`api.pages`); each item carries the
catalogue's categories and links from the in-memory catalogue view.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import Field

from api.container import Services
from api.deps import READ_SECURITY, USER_READ_SECURITY, ReaderDep
from api.errors import error_item
from api.json_response import json_body
from api.list_query import ListParams
from api.observability import Metrics
from api.pages import (
    RANKING_CHANGED,
    close_page,
    list_key,
    ranking_changed,
)
from api.routing import id_path
from api.schemas.errors import ErrorPublic, error_responses
from api.schemas.recommend import RecommendationsPublic
from graphrec.ids import Identifier, UserIdentifier, anonymous_node_id
from graphrec.recommend.popular import CatalogView, UnknownCategory
from graphrec.recommend.ranking import NothingToServe, RankingChanged, RecRequest, RecResult

router = APIRouter(
    tags=["recommendations"],
    responses=error_responses(401, 409, 422, 429, 503, e409=RANKING_CHANGED),
)

USER_TOKEN_403 = {
    "model": ErrorPublic,
    "description": "a publishable key's user token is for another user (or the server verifies no user tokens)",
}


def described(view: CatalogView, item_id: str) -> dict[str, Any]:
    """What a listed item carries from the catalogue: availability, categories and links (every list)."""
    categories, (url, image_url, price, currency) = view.details(item_id)
    return {
        "available": view.listable(item_id),
        "categories": list(categories),
        "url": url,
        "image_url": image_url,
        "price": price,
        "currency": currency,
    }


def to_public(result: RecResult, explain: bool, view: CatalogView) -> list[dict[str, Any]]:
    """The listed items with :class:`RecommendedItemPublic`'s fields, as plain dicts.

    Why not models: every value comes typed from the ranking (:class:`~graphrec.recommend.ranking.RecItem`)
    and the catalogue view, so the busiest route writes them straight to JSON (:func:`json_body`); building
    and validating a model per item cost a tenth of the request. The schema still documents them, and the
    schema tests hold the answers to it."""
    out = []
    for i in result.items:
        parts = i.parts if explain else None
        out.append(
            {
                "item_id": i.item_id,
                "title": i.title,
                "score": i.score,
                "source": i.source,
                "reasons": list(i.reasons) if explain else None,
                "scores": None
                if parts is None
                else {
                    "embedding": parts.embedding,
                    "graph": parts.graph,
                    "alpha": parts.alpha,
                    "neighbours": parts.neighbours,
                    "gamma": parts.gamma,
                },
                "evidence": list(i.evidence) if explain and i.evidence else None,
                **described(view, i.item_id),
            }
        )
    return out


def unknown_category(exc: UnknownCategory) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [error_item(None, "category", str(exc))])


def nothing_to_serve(exc: NothingToServe) -> HTTPException:
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": "5"})


def record(metrics: Metrics, endpoint: str, result: RecResult) -> None:
    for source, n in result.source_mix.items():
        metrics.sources.labels(endpoint, source).inc(n)
    if result.degraded:
        metrics.degraded.labels(endpoint).inc()


class ListQuery(ListParams):
    """The query of a recommendations list, a user's or an anonymous visitor's alike: every list's
    parameters (:class:`api.list_query.ListParams`) plus what only a user's list has."""

    exclude_seen: bool = Field(True, description="leave out items the user or visitor interacted with")
    diversity: float = Field(0.0, ge=0.0, le=1.0, description="0 = pure relevance, 1 = maximal spread (MMR)")
    explain: bool = Field(False, description="reasons, per-source scores and evidence for each item")


ListQueryDep = Annotated[ListQuery, Query()]


async def _recommend(services: Services, query: ListQuery, *, node_id: str, public_id: str, kind: str) -> Response:
    """One list for both routes: the page opened from the cursor, the recommender asked, the page closed."""
    settings = services.settings
    filters = query.filters()
    page = query.page(settings, list_key(kind, public_id, *filters.identity(), query.exclude_seen, query.diversity))
    req = RecRequest(
        node_id,
        page.k,
        query.exclude_seen,
        query.category,
        query.diversity,
        query.explain,
        leave_out=page.leave_out,
        continues=page.continued,
        continued_version=page.model_version,
        price_min=filters.price_min,
        price_max=filters.price_max,
        attributes=filters.attributes,
    )
    try:
        result = await services.recommender.for_user(req)
    except RankingChanged:
        raise ranking_changed() from None
    except UnknownCategory as exc:
        raise unknown_category(exc) from None
    except NothingToServe as exc:
        raise nothing_to_serve(exc) from None
    next_cursor = close_page(
        settings, page, item_ids=[i.item_id for i in result.items], model_version=result.model_version
    )
    record(services.metrics, "user", result)
    return json_body(
        {
            "user_id": public_id,
            "model_version": result.model_version,
            "degraded": result.degraded,
            "cold_start": result.cold_start,
            "personalised_from": result.personalised_from,
            "recommendation_id": result.recommendation_id,
            "experiment": result.experiment,
            "arm": result.arm,
            "data": to_public(result, query.explain, services.catalog.view),
            "graph_as_of_ms": result.graph_as_of_ms if query.explain else None,
            "count": len(result.items),
            "next_cursor": next_cursor,
        }
    )


@router.get(
    id_path("/users/{user_id}/recommendations"),
    response_model=RecommendationsPublic,
    responses=error_responses(403, e403=USER_TOKEN_403),
    openapi_extra={"security": USER_READ_SECURITY},
)
async def user_recommendations(
    read: ReaderDep, user_id: Annotated[UserIdentifier, Path()], query: ListQueryDep
) -> Response:
    """Top-k items for a user: blended embedding + graph candidates, trending items for unknown users."""
    read.caller.require(user_id)  # a publishable key: only with this user's token (explain shows their history)
    return await _recommend(read.services, query, node_id=user_id, public_id=user_id, kind="user")


@router.get(
    id_path("/anonymous/{anonymous_id}/recommendations"),
    response_model=RecommendationsPublic,
    openapi_extra={"security": READ_SECURITY},
)
async def anonymous_recommendations(
    read: ReaderDep, anonymous_id: Annotated[Identifier, Path()], query: ListQueryDep
) -> Response:
    """Top-k items for an anonymous visitor from their session events (trending until they have some)."""
    return await _recommend(
        read.services, query, node_id=anonymous_node_id(anonymous_id), public_id=anonymous_id, kind="anonymous"
    )
