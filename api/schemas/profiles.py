"""Behaviour profile responses (definitions: :mod:`graphrec.behaviour.profiles`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CategoryShare(BaseModel):
    name: str
    share: float = Field(description="share of the user's recency-decayed events on items of this category")


class TrendPublic(BaseModel):
    last_7d: int
    previous_7d: int
    change: float = Field(description="(last_7d - previous_7d) / max(previous_7d, 1)")


class ProfilePublic(BaseModel):
    """How a user behaves, from their event log over the last ``window_days`` days."""

    user_id: str
    window_days: int
    events: int
    first_ms: int | None
    last_ms: int | None
    recency_days: float | None = Field(description="days since the last event")
    recency_score: float = Field(description="2^(-recency_days / 7): 1 = just now")
    active_days: int
    frequency_per_active_day: float
    sessions: int = Field(description="a session ends when its session id changes or after 30 idle minutes")
    session_events: float
    session_seconds: float
    active_ratio: float = Field(
        description="deliberate acts (click, cart, purchase, rating, like, share, dislike) over all events"
    )
    engagement: float = Field(description="recency-decayed events, passive ones counting 0.25")
    engagement_level: str = Field(description="low (< 2) | medium (< 10) | high")
    cart_per_session: float
    purchase_per_session: float
    mean_dwell_s: float
    mean_scroll_depth: float
    bot_share: float = Field(description="share of the events the bot guard flagged")
    purchase_intent: float = Field(
        description="0..1 from the last 24 h: 1 - exp(-(open carts + 0.3 clicks + "
        "0.05 passive events)); open carts = carts - purchases"
    )
    preferred_categories: list[CategoryShare]
    device_mix: dict[str, float]
    trend: dict[str, TrendPublic] = Field(description="per event type: the last 7 days against the 7 before")
    segment: str | None = Field(
        description="the behavioural segment `graphrec segment` last put the user in (the "
        "API reloads it within GRAPHREC_SEGMENT_REFRESH_S of a new segmentation); none: "
        "not segmented"
    )
