"""Event validation: every bad event reported with index, field and reason."""

from __future__ import annotations

from typing import Any

import pytest

from graphrec.events.schema import EventValidationError, validate_event, validate_events
from graphrec.ids import USER_ID_RESERVED

NOW = 1_750_000_000_000
SKEW = 300_000


def ev(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "e1",
        "user_id": "u1",
        "item_id": "i1",
        "type": "click",
        "timestamp": NOW - 1_000,
    }
    base.update(kw)
    return {k: v for k, v in base.items() if v is not None}


def errors(raw: list[Any]) -> list[tuple[int | None, str, str]]:
    with pytest.raises(EventValidationError) as info:
        validate_events(raw, now_ms=NOW, skew_ms=SKEW)
    return [(e.index, e.field, e.reason) for e in info.value.errors]


def test_valid_events_normalise_timestamps_and_actors() -> None:
    got = validate_events(
        [
            ev(timestamp="2025-06-15T12:00:00+02:00"),
            ev(
                event_id="e2",
                user_id=None,
                anonymous_id="cookie-9",
                type="dwell",
                value=12.5,
                timestamp="2025-06-15T10:00:00Z",
                context={
                    "session_id": "s",
                    "device": "mobile",
                    "page_section": "hero",
                    "viewport": {"width": 390, "height": 844},
                },
            ),
            ev(event_id="e3", type="rating", value=4, timestamp=NOW + SKEW),  # right at the tolerance
        ],
        now_ms=NOW,
        skew_ms=SKEW,
    )
    assert got[0].timestamp == got[1].timestamp == 1_749_981_600_000  # both 10:00 UTC
    assert (got[0].actor, got[1].actor) == ("u1", "anon:cookie-9")
    assert got[1].value == 12.5 and got[2].value == 4.0


def test_every_bad_event_is_listed_with_field_and_reason() -> None:
    got = errors(
        [
            ev(),  # fine
            ev(type="teleport"),
            ev(type="dwell"),  # needs a value
            ev(type="scroll", value=1.5),
            ev(type="rating", value=0),
            ev(type="click", value=3),
            ev(timestamp=NOW + SKEW + 60_000),
            ev(timestamp="2025-06-15T12:00:00"),  # no zone
            ev(timestamp=1_750_000_000),  # seconds, not ms
            ev(user_id=None),
            ev(anonymous_id="a"),  # both actors
            ev(user_id="anon:sneaky"),
            ev(item_id=""),
            ev(extra=1),
            "not an object",
        ]
    )
    assert got == [
        (
            1,
            "type",
            "unknown event type 'teleport'; expected one of: view, click, hover, scroll, dwell, "
            "add_to_cart, purchase, rating, like, share, video_play, dislike",
        ),
        (2, "value", "type 'dwell' needs a value (seconds in [0.0, 86400.0])"),
        (3, "value", "scroll value 1.5 is outside [0.0, 1.0] (depth fraction)"),
        (4, "value", "rating value 0.0 is outside [1.0, 5.0] (stars)"),
        (5, "value", "type 'click' takes no value"),
        (6, "timestamp", "timestamp is 360.0 s in the future, beyond the clock-skew tolerance of 300.0 s"),
        (7, "timestamp", "ISO-8601 timestamp '2025-06-15T12:00:00' needs a time zone (e.g. 'Z' or '+02:00')"),
        (
            8,
            "timestamp",
            "timestamp 1750000000 is before 2000-01-01 (epoch seconds instead of milliseconds?)",
        ),
        (9, "anonymous_id", "give exactly one of user_id or anonymous_id"),
        (10, "anonymous_id", "give exactly one of user_id or anonymous_id"),
        (11, "user_id", USER_ID_RESERVED),
        (12, "item_id", "String should have at least 1 character"),
        (13, "extra", "Extra inputs are not permitted"),
        (14, "event", "Input should be a valid dictionary or instance of EventIn"),
    ]


def test_wrong_types_and_non_list() -> None:
    got = errors([ev(event_id=5, timestamp=True, value="x", type="scroll")])
    assert (0, "event_id", "Input should be a valid string") in got
    assert (0, "timestamp", "expected ISO-8601 text with a zone or epoch milliseconds") in got
    assert any(f == "value" for _, f, _ in got)
    with pytest.raises(EventValidationError) as info:
        validate_events({"events": []}, now_ms=NOW, skew_ms=SKEW)
    assert info.value.errors[0].reason == "expected a JSON array of events"


def test_single_event_errors_carry_the_line_number() -> None:
    with pytest.raises(EventValidationError) as info:
        validate_event(ev(type="nope"), now_ms=NOW, skew_ms=SKEW, index=17)
    assert (info.value.errors[0].index, info.value.errors[0].field) == (17, "type")
