"""The behaviour-event model and batch validation that reports every bad event at once.

An event names exactly one actor (``user_id`` or ``anonymous_id``), an item, a type from
:class:`graphrec.event_types.EventType`, a timestamp (ISO-8601 text with a zone, or epoch
milliseconds; normalised to UTC epoch ms), a value for valued types (dwell/video seconds, scroll
depth 0..1, rating 1..5) and an optional context. Validation needs ``now_ms`` and the clock-skew
tolerance, passed as pydantic validation context, so no clock is read at import or in the model.

Anonymous visitors become graph users with the id ``anon:<anonymous_id>``; user ids may therefore
not start with ``anon:``.

Two kinds of event carry more:

* a ``purchase`` may carry ``price`` (per unit), ``currency`` (ISO 4217, given with a price),
  ``quantity`` (a positive integer; absent means 1) and ``order_id``: kept in the event log for revenue
  per recommendation list; they never change the edge (a purchase weighs what it always weighed);
* a ``custom`` event (:data:`graphrec.event_types.CUSTOM_TYPE`) names the shop's own action in ``name``
  (``wishlist_add``: lower-case letters, digits and ``_``, at most 64), may name an item and carries
  at most :data:`MAX_PROPERTIES` flat ``properties`` (text, numbers, true/false). It is de-duplicated
  and logged like any event but is never an edge, so neither its name nor its properties ever reach a
  Cypher query.

Every other event names an item, and carries none of these fields.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from graphrec.event_types import CUSTOM_TYPE, EVENT_TYPES, VALUED_TYPES
from graphrec.ids import Identifier, UserIdentifier, anonymous_node_id

MIN_TIMESTAMP_MS = 946_684_800_000  # 2000-01-01T00:00:00Z: anything earlier is a unit mistake
KNOWN_TYPES: tuple[str, ...] = (*EVENT_TYPES, CUSTOM_TYPE)

CUSTOM_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
PROPERTY_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
MAX_PROPERTIES = 20
MAX_PROPERTY_TEXT = 256
MAX_PRICE = 1e9
MAX_QUANTITY = 100_000
PURCHASE_FIELDS: tuple[str, ...] = ("price", "currency", "quantity", "order_id")
CUSTOM_FIELDS: tuple[str, ...] = ("name", "properties")
PropertyValue = StrictBool | StrictInt | StrictFloat | StrictStr


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
    item_id: Identifier | None = Field(None, description="the item; every event but a custom one names one")
    type: str = Field(description=f"one of {', '.join(KNOWN_TYPES)}")
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
    # purchase only (PURCHASE_FIELDS)
    price: float | None = Field(
        None,
        strict=True,
        ge=0,
        le=MAX_PRICE,
        allow_inf_nan=False,
        description="purchase only: the price of one unit, in currency (revenue = price x quantity)",
    )
    currency: str | None = Field(
        None,
        validate_default=True,
        description="purchase only: ISO 4217 code of price, three upper-case letters (EUR); given with price",
    )
    quantity: int | None = Field(
        None, strict=True, ge=1, le=MAX_QUANTITY, description="purchase only: units bought (absent: 1)"
    )
    order_id: Identifier | None = Field(None, description="purchase only: the shop's order")
    # custom only (CUSTOM_FIELDS)
    name: str | None = Field(
        None,
        validate_default=True,
        description="custom only (and required): the shop's name of the action, lower-case letters, digits "
        "and '_', starting with a letter, at most 64 (wishlist_add)",
    )
    properties: dict[str, PropertyValue] | None = Field(
        None,
        description=f"custom only: at most {MAX_PROPERTIES} flat properties (names as name; values text of at "
        f"most {MAX_PROPERTY_TEXT} characters, finite numbers or true/false); logged, never on the graph",
    )

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in KNOWN_TYPES:
            raise PydanticCustomError(
                "event_type",
                "unknown event type '{type}'; expected one of: {known} (an action of your own: "
                "type 'custom' with a name)",
                {"type": v, "known": ", ".join(KNOWN_TYPES)},
            )
        return v

    @field_validator("price", "quantity", "order_id")
    @classmethod
    def _purchase_only(cls, v: object, info: ValidationInfo) -> object:
        _only_on(info, v, "purchase")
        return v

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str | None, info: ValidationInfo) -> str | None:
        _only_on(info, v, "purchase")
        if v is not None and not (isinstance(v, str) and len(v) == 3 and v.isascii() and v.isalpha() and v.isupper()):
            raise PydanticCustomError(
                "currency",
                "'{value}' is not an ISO 4217 currency code (three upper-case letters, e.g. EUR)",
                {"value": str(v)[:16]},
            )
        if "price" not in info.data:  # the price itself was invalid and is reported already
            return v
        if info.data["price"] is not None and v is None:
            raise PydanticCustomError("currency", "a price needs its currency (ISO 4217, e.g. EUR)")
        if info.data["price"] is None and v is not None:
            raise PydanticCustomError("currency", "a currency without a price; send both or neither")
        return v

    @field_validator("name")
    @classmethod
    def _custom_name(cls, v: str | None, info: ValidationInfo) -> str | None:
        event_type = info.data.get("type")
        _only_on(info, v, CUSTOM_TYPE)
        if event_type != CUSTOM_TYPE:
            return v
        if v is None:
            raise PydanticCustomError("name", "a custom event needs a name (e.g. wishlist_add)")
        if not isinstance(v, str) or CUSTOM_NAME.fullmatch(v) is None:
            raise PydanticCustomError(
                "name",
                "'{value}' is not a custom event name: lower-case letters, digits and '_', starting with a "
                "letter, at most 64 characters",
                {"value": str(v)[:80]},
            )
        if v in KNOWN_TYPES:
            raise PydanticCustomError(
                "name", "'{value}' is a built-in event type: send it as type '{value}'", {"value": v}
            )
        return v

    @field_validator("properties", mode="before")
    @classmethod
    def _flat_properties(cls, v: Any, info: ValidationInfo) -> Any:
        _only_on(info, v, CUSTOM_TYPE)
        if v is None:
            return v
        if not isinstance(v, dict):
            raise PydanticCustomError("properties", "expected an object of flat properties")
        if len(v) > MAX_PROPERTIES:
            raise PydanticCustomError(
                "properties", "{n} properties; at most {max}", {"n": len(v), "max": MAX_PROPERTIES}
            )
        for key, value in v.items():
            if not isinstance(key, str) or PROPERTY_KEY.fullmatch(key) is None:
                raise PydanticCustomError(
                    "properties",
                    "property name '{key}' must be letters, digits and '_', starting with a letter, at most 64",
                    {"key": str(key)[:80]},
                )
            if isinstance(value, str):
                if len(value) > MAX_PROPERTY_TEXT:
                    raise PydanticCustomError(
                        "properties",
                        "property '{key}': text longer than {max} characters",
                        {"key": key, "max": MAX_PROPERTY_TEXT},
                    )
            elif isinstance(value, float) and not math.isfinite(value):
                raise PydanticCustomError("properties", "property '{key}': not a finite number", {"key": key})
            elif not isinstance(value, bool | int | float):
                raise PydanticCustomError(
                    "properties",
                    "property '{key}': expected text, a number or true/false (no null, list or object)",
                    {"key": key},
                )
        return v

    @model_validator(mode="after")
    def _names_an_item(self) -> EventIn:
        if self.item_id is None and self.type != CUSTOM_TYPE:
            raise PydanticCustomError(
                "item_id", "a {type} event needs an item_id", {"type": self.type, "field": "item_id"}
            )
        return self

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


def _only_on(info: ValidationInfo, value: object, event_type: str) -> None:
    """Refuse ``info.field_name`` on an event that is not of ``event_type`` (the purchase fields on a
    click, a name on a purchase); an event whose type was invalid is reported for that already."""
    actual = info.data.get("type")
    if value is not None and actual is not None and actual != event_type:
        raise PydanticCustomError(
            "field_for_type",
            "only a {wanted} event carries {field}; this one is a {type}",
            {"wanted": event_type, "field": info.field_name, "type": actual},
        )


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
