"""``GET /v1/users/{id}/profile`` and the anonymous variant: behaviour profiles from the event log (secret key).

Computed on every call from the user's log rows (an indexed read), so a new event shows in the next
answer; the store is not needed (the catalogue's categories come from the API's cached view, the segment
from the API's copy of the last segmentation, :mod:`graphrec.serving.segment_table`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from api.deps import CatalogDep, EventLogDep, SegmentsDep, require_api_key
from api.routers.users import UserId
from api.routing import id_path
from api.schemas.errors import SECRET_KEY_ONLY_403, error_responses
from api.schemas.profiles import CategoryShare, ProfilePublic, TrendPublic
from graphrec import clock
from graphrec.behaviour.profiles import build_profile
from graphrec.clock import DAY_MS
from graphrec.events.log import EventLog
from graphrec.ids import Identifier, anonymous_node_id
from graphrec.recommend.popular import CatalogCache
from graphrec.serving.segment_table import SegmentTable

router = APIRouter(
    tags=["profiles"],
    dependencies=[Depends(require_api_key)],
    responses=error_responses(401, 403, 422, 429, 503, e403=SECRET_KEY_ONLY_403),
)

WindowDays = Annotated[int, Query(ge=1, le=365, description="days of history the profile looks at")]


def _profile(
    actor: str, public_id: str, log: EventLog, catalog: CatalogCache, segments: SegmentTable, window_days: int
) -> ProfilePublic:
    now_ms = clock.now_ms()
    cols = log.columns(since_ms=now_ms - window_days * DAY_MS, actors=[actor])
    p = build_profile(actor, cols, now_ms=now_ms, window_days=window_days, item_categories=catalog.view.categories)
    return ProfilePublic(
        user_id=public_id,
        window_days=p.window_days,
        events=p.events,
        first_ms=p.first_ms,
        last_ms=p.last_ms,
        recency_days=p.recency_days,
        recency_score=p.recency_score,
        active_days=p.active_days,
        frequency_per_active_day=p.frequency_per_active_day,
        sessions=p.sessions,
        session_events=p.session_events,
        session_seconds=p.session_seconds,
        active_ratio=p.active_ratio,
        engagement=p.engagement,
        engagement_level=p.engagement_level,
        cart_per_session=p.cart_per_session,
        purchase_per_session=p.purchase_per_session,
        mean_dwell_s=p.mean_dwell_s,
        mean_scroll_depth=p.mean_scroll_depth,
        bot_share=p.bot_share,
        purchase_intent=p.purchase_intent,
        preferred_categories=[CategoryShare(name=c, share=s) for c, s in p.preferred_categories],
        device_mix=p.device_mix,
        trend={t: TrendPublic(**v) for t, v in p.trend.items()},
        segment=segments.segment_of(actor),
    )


@router.get(id_path("/users/{user_id}/profile"), response_model=ProfilePublic)
def user_profile(
    user_id: UserId, log: EventLogDep, catalog: CatalogDep, segments: SegmentsDep, window_days: WindowDays = 30
) -> ProfilePublic:
    """The user's behaviour profile (recency, frequency, sessions, engagement, categories, devices, trends, segment)."""
    return _profile(user_id, user_id, log, catalog, segments, window_days)


@router.get(id_path("/anonymous/{anonymous_id}/profile"), response_model=ProfilePublic)
def anonymous_profile(
    anonymous_id: Annotated[Identifier, Path()],
    log: EventLogDep,
    catalog: CatalogDep,
    segments: SegmentsDep,
    window_days: WindowDays = 30,
) -> ProfilePublic:
    """An anonymous visitor's behaviour profile."""
    return _profile(anonymous_node_id(anonymous_id), anonymous_id, log, catalog, segments, window_days)
