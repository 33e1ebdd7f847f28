"""The behaviour-event model and batch validation that reports every bad event at once.

An event names exactly one actor (``user_id`` or ``anonymous_id``), an item, a type from
:class:`graphrec.event_types.EventType`, a timestamp (ISO-8601 text with a zone, or epoch
milliseconds; normalised to UTC epoch ms), a value for valued types (dwell/video seconds, scroll
depth 0..1, rating 1..5) and an optional context. Validation needs ``now_ms`` and the clock-skew
tolerance, passed as pydantic validation context, so no clock is read at import or in the model.

Anonymous visitors become graph users with the id ``anon:<anonymous_id>``; user ids may therefore
not start with ``anon:``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from graphrec.event_types import EVENT_TYPES, VALUED_TYPES
from graphrec.ids import Identifier, UserIdentifier, anonymous_node_id

MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01T00:00:00Z: anything earlier is a unit mistake


class Viewport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: int = Field(ge=1, le=100_000)
    height: int = Field(ge=1, le=100_000)


class EventContext(BaseModel):
    """Where the event happened; validated, not stored on edges (edges keep aggregates only)."""

    model_config = ConfigDict(extra="forbid")

    session_id: str | None = Field(None, max_length=256)
    device: str | None = Field(None, max_length=64)
    page_section: str | None = Field(None, max_length=256)
    viewport: Viewport | None = None
    recommendation_id: str | None = Field(
        None,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description=(
            "the recommendation list the event's item was picked from (its response's recommendation_id): the "
            "event is attributed to it; without it, to the latest list that showed the item within 24 h"
        ),
    )


class EventIn(BaseModel):
    """One behaviour event as clients send it (API body element, one JSONL line)."""

    model_config = ConfigDict(extra="forbid")

    event_id: Identifier = Field(description="client id of the event; retries reuse it (idempotency)")
    user_id: UserIdentifier | None = Field(None, description="known user (exactly one of user_id/anonymous_id)")
    anonymous_id: Identifier | None = Field(
        None, validate_default=True, description="anonymous visitor (cookie/device id)"
    )
    item_id: Identifier
    type: str = Field(description=f"one of {', '.join(EVENT_TYPES)}")
    # Accepted as either form (the validator below turns text into epoch ms), so the published
    # schema says so; the Python type is what the rest of graphrec sees.
    timestamp: Annotated[
        int,
        WithJsonSchema(
            {
                "anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer", "minimum": MIN_TIMESTAMP_MS}],
                "title": "Timestamp",
                "description": "ISO-8601 with a zone, or epoch milliseconds (from 2000-01-01, at most the "
                "clock-skew tolerance ahead of the server); stored as UTC epoch ms",
            }
        ),
    ]
    value: float | None = Field(
        None,
        validate_default=True,
        allow_inf_nan=False,
        description="dwell/video seconds, scroll depth 0..1, rating 1..5",
    )
    context: EventContext | None = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in EVENT_TYPES:
            raise PydanticCustomError(
                "event_type",
                "unknown event type '{type}'; expected one of: {known}",
                {"type": v, "known": ", ".join(EVENT_TYPES)},
            )
        return v

    @field_validator("timestamp", mode="before")
    @classmethod
    def _epoch_ms(cls, v: Any, info: ValidationInfo) -> int:
        if isinstance(v, bool):
            raise PydanticCustomError("timestamp", "expected ISO-8601 text with a zone or epoch milliseconds")
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, int):
            ms = v
        elif isinstance(v, str):
            try:
                dt = datetime.fromisoformat(v)
            except ValueError:
                raise PydanticCustomError(
                    "timestamp", "'{value}' is not an ISO-8601 timestamp", {"value": v[:64]}
                ) from None
            if dt.tzinfo is None:
                raise PydanticCustomError(
                    "timestamp",
                    "ISO-8601 timestamp '{value}' needs a time zone (e.g. 'Z' or '+02:00')",
                    {"value": v[:64]},
                )
            ms = math.floor(dt.timestamp() * 1000)
        else:
            raise PydanticCustomError("timestamp", "expected ISO-8601 text with a zone or epoch milliseconds")
        if ms < MIN_TIMESTAMP_MS:
            raise PydanticCustomError(
                "timestamp",
                "timestamp {ms} is before 2000-01-01 (epoch seconds instead of milliseconds?)",
                {"ms": ms},
            )
        ctx = info.context or {}
        now_ms, skew_ms = ctx.get("now_ms"), ctx.get("skew_ms")
        if now_ms is not None and skew_ms is not None and ms > now_ms + skew_ms:
            raise PydanticCustomError(
                "timestamp",
                "timestamp is {ahead} s in the future, beyond the clock-skew tolerance of {skew} s",
                {"ahead": round((ms - now_ms) / 1000, 1), "skew": round(skew_ms / 1000, 1)},
            )
        return ms

    @field_validator("value")
    @classmethod
    def _value_fits_type(cls, v: float | None, info: ValidationInfo) -> float | None:
        event_type = info.data.get("type")
        if event_type is None:  # the type itself was invalid and is reported already
            return v
        spec = VALUED_TYPES.get(event_type)
        if spec is None:
            if v is not None:
                raise PydanticCustomError("value", "type '{type}' takes no value", {"type": event_type})
            return v
        unit, lo, hi = spec
        if v is None:
            raise PydanticCustomError(
                "value",
                "type '{type}' needs a value ({unit} in [{lo}, {hi}])",
                {"type": event_type, "unit": unit, "lo": lo, "hi": hi},
            )
        if not lo <= v <= hi:
            raise PydanticCustomError(
                "value",
                "{type} value {v} is outside [{lo}, {hi}] ({unit})",
                {"type": event_type, "v": v, "unit": unit, "lo": lo, "hi": hi},
            )
        return v

    @field_validator("anonymous_id")
    @classmethod
    def _one_actor(cls, v: str | None, info: ValidationInfo) -> str | None:
        if "user_id" not in info.data:  # user_id itself was invalid and is reported already
            return v
        if (info.data["user_id"] is None) == (v is None):
            raise PydanticCustomError("actor", "give exactly one of user_id or anonymous_id")
        return v

    @property
    def actor(self) -> str:
        """The graph user id this event belongs to."""
        return self.user_id if self.user_id is not None else anonymous_node_id(self.anonymous_id or "")


@dataclass(frozen=True, slots=True)
class EventError:
    """One reason an event was rejected: ``index`` in the batch (or line number), field, reason."""

    index: int | None
    field: str
    reason: str


class EventValidationError(ValueError):
    """A batch failed validation; ``errors`` lists every bad event."""

    def __init__(self, errors: Sequence[EventError]) -> None:
        self.errors = list(errors)
        super().__init__(f"{len(self.errors)} invalid event(s)")


_EVENT_LIST: TypeAdapter[list[EventIn]] = TypeAdapter(list[EventIn])


def _field_of(loc: tuple[Any, ...], ctx: dict[str, Any] | None) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if not parts and ctx and "field" in ctx:
        return str(ctx["field"])
    return ".".join(parts) or "event"


def errors_from(exc: ValidationError, *, index: int | None = None) -> list[EventError]:
    """Flatten a pydantic error into ``EventError`` rows; a list loc's leading int is the index."""
    out = []
    for e in exc.errors(include_url=False):
        loc = tuple(e["loc"])
        i = index
        if index is None and loc and isinstance(loc[0], int):
            i, loc = loc[0], loc[1:]
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append(EventError(index=i, field=_field_of(loc, e.get("ctx")), reason=msg))
    return out


def validate_events(raw: Any, *, now_ms: int, skew_ms: int) -> list[EventIn]:
    """Validate a JSON array of events; raises :class:`EventValidationError` listing every bad one."""
    if not isinstance(raw, list):
        raise EventValidationError([EventError(None, "events", "expected a JSON array of events")])
    try:
        return _EVENT_LIST.validate_python(raw, context={"now_ms": now_ms, "skew_ms": skew_ms})
    except ValidationError as exc:
        raise EventValidationError(errors_from(exc)) from None


def validate_event(raw: Any, *, now_ms: int, skew_ms: int, index: int | None = None) -> EventIn:
    """Validate one event (a JSONL line); errors carry ``index`` (the line number)."""
    try:
        return EventIn.model_validate(raw, context={"now_ms": now_ms, "skew_ms": skew_ms})
    except ValidationError as exc:
        raise EventValidationError(errors_from(exc, index=index)) from None
