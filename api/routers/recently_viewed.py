"""``GET /v1/users/{user_id}/recently-viewed`` and the anonymous-visitor variant (issue 28, point 5).

The actor's most recently touched items, newest first (:mod:`graphrec.recommend.recently_viewed`),
within the list filters, ``exclude=`` and cursor pages of every list (:mod:`api.pages`). The list IS the
actor's history, so a publishable key reads a user's only with that user's token, exactly as their
recommendations (:class:`api.deps.Caller`); an anonymous id is the visitor's own. Never shared (no
``Cache-Control: public``), and never degraded: only the store knows the history, so while it is down
the answer is 503 with ``Retry-After``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from api.container import Services
from api.deps import READ_SECURITY, USER_READ_SECURITY, ReaderDep
from api.json_response import json_body
from api.list_query import ListParams
from api.pages import close_page, list_key
from api.routers.recommendations import USER_TOKEN_403, described, unknown_category
from api.routing import id_path
from api.schemas.errors import error_responses
from api.schemas.lists import RecentlyViewedPublic
from graphrec import clock
from graphrec.ids import Identifier, UserIdentifier, anonymous_node_id
from graphrec.recommend.explain import recently_viewed_reason
from graphrec.recommend.popular import UnknownCategory

router = APIRouter(tags=["recommendations"], responses=error_responses(401, 422, 429, 503))


class RecentQuery(ListParams):
    """The query of a recently-viewed list, a user's or a visitor's alike (every list's parameters)."""

    explain: bool = Field(False, description="say when each item was viewed")


RecentQueryDep = Annotated[RecentQuery, Query()]


async def _recent(services: Services, query: RecentQuery, *, node_id: str, public_id: str, kind: str) -> Response:
    settings = services.settings
    filters = query.filters()
    page = query.page(settings, list_key(kind, public_id, *filters.identity()))
    try:
        viewed = await services.recommender.recently_viewed(
            node_id, page.k, filters=filters, leave_out=page.leave_out, half_life_days=settings.half_life_days
        )
    except UnknownCategory as exc:
        raise unknown_category(exc) from None
    view = services.catalog.view
    now = clock.now_ms()
    data = [
        {
            "item_id": v.item_id,
            "title": view.title(v.item_id),
            "score": v.score,
            "source": "history",
            "reasons": [recently_viewed_reason(now - v.viewed_ms)] if query.explain else None,
            "scores": None,
            "evidence": None,
            "viewed_ms": v.viewed_ms,
            **described(view, v.item_id),
        }
        for v in viewed
    ]
    # The history moves with every event, with no model version: pages never 409, never repeat.
    next_cursor = close_page(settings, page, item_ids=[v.item_id for v in viewed], model_version=None, versioned=False)
    return json_body({"user_id": public_id, "data": data, "count": len(data), "next_cursor": next_cursor})


@router.get(
    id_path("/users/{user_id}/recently-viewed"),
    response_model=RecentlyViewedPublic,
    responses=error_responses(403, e403=USER_TOKEN_403),
    openapi_extra={"security": USER_READ_SECURITY},
)
async def user_recently_viewed(
    read: ReaderDep, user_id: Annotated[UserIdentifier, Path()], query: RecentQueryDep
) -> Response:
    """A user's most recently viewed (touched) items, newest first; a publishable key needs the user's token."""
    read.caller.require(user_id)  # the list is the user's history
    return await _recent(read.services, query, node_id=user_id, public_id=user_id, kind="recent-user")


@router.get(
    id_path("/anonymous/{anonymous_id}/recently-viewed"),
    response_model=RecentlyViewedPublic,
    openapi_extra={"security": READ_SECURITY},
)
async def anonymous_recently_viewed(
    read: ReaderDep, anonymous_id: Annotated[Identifier, Path()], query: RecentQueryDep
) -> Response:
    """An anonymous visitor's most recently viewed (touched) items, newest first."""
    return await _recent(
        read.services,
        query,
        node_id=anonymous_node_id(anonymous_id),
        public_id=anonymous_id,
        kind="recent-anonymous",
    )
