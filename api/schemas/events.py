"""``/v1/events`` bodies. The event model itself is the domain one, :class:`graphrec.events.schema.EventIn`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from graphrec.events.schema import EventIn


class EventsCreate(BaseModel):
    """A batch of events (documents the request body; it is parsed and size-checked by hand)."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1)


class EventsAccepted(BaseModel):
    """What a durable write did with the batch."""

    received: int
    applied: int = Field(description="events whose weights were added to edges")
    custom: int = Field(0, description="custom events recorded in the event log (never edges; 0 in stream mode)")
    duplicates: int = Field(description="events already recorded (same event_id, same actor)")
    collapsed: int = Field(description="identical events within the burst window, counted once")
    flagged: int = Field(description="events dropped by the per-actor bot guard")
    duplicate_ids: list[str]
    flagged_actors: list[str]
    unknown_items: list[str] = Field(
        default_factory=list,
        description="item ids the batch names that no catalogue described (created "
        "provisional); listed only when the server runs with GRAPHREC_UNKNOWN_ITEMS=flag",
    )
    queued: int | None = Field(
        None,
        description="stream mode only (GRAPHREC_EVENT_STREAM): events the Kafka broker acknowledged; "
        "`graphrec consume` applies them, so applied, duplicates, collapsed and flagged are 0 here "
        "(absent on the direct path)",
    )
