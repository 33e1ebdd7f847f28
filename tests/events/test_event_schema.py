"""Event validation: every bad event reported with index, field and reason."""

from __future__ import annotations

from typing import Any

import pytest

from graphrec.events.schema import EventValidationError, validate_event, validate_events
from graphrec.ids import ID_RULE, USER_ID_RESERVED

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
            "add_to_cart, purchase, rating, like, share, video_play, dislike, custom (an action of your own: "
            "type 'custom' with a name)",
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


def test_a_purchase_may_carry_price_currency_quantity_and_order() -> None:
    full, bare = validate_events(
        [
            ev(type="purchase", price=19.99, currency="EUR", quantity=2, order_id="o-1"),
            ev(event_id="e2", type="purchase"),
        ],
        now_ms=NOW,
        skew_ms=SKEW,
    )
    assert (full.price, full.currency, full.quantity, full.order_id) == (19.99, "EUR", 2, "o-1")
    assert (bare.price, bare.currency, bare.quantity, bare.order_id) == (None, None, None, None)


def test_a_custom_event_has_a_name_may_name_an_item_and_never_a_property_beyond_the_rules() -> None:
    wish, signup = validate_events(
        [
            ev(type="custom", name="wishlist_add", properties={"list": "summer", "position": 3, "gift": True}),
            ev(event_id="e2", type="custom", name="newsletter_signup", item_id=None, anonymous_id="v", user_id=None),
        ],
        now_ms=NOW,
        skew_ms=SKEW,
    )
    assert (wish.item_id, wish.name, wish.properties) == (
        "i1",
        "wishlist_add",
        {"list": "summer", "position": 3, "gift": True},
    )
    assert (signup.item_id, signup.actor, signup.properties) == (None, "anon:v", None)


def test_bad_purchase_details_and_custom_events_name_the_field_and_the_reason() -> None:
    custom = {"type": "custom", "name": "wishlist_add"}
    got = errors(
        [
            ev(type="purchase", price=10),
            ev(type="purchase", currency="EUR"),
            ev(type="purchase", price=10, currency="eur"),
            ev(type="purchase", price=-1, currency="EUR"),
            ev(type="purchase", price=float("inf"), currency="EUR"),
            ev(type="purchase", price="10", currency="EUR"),
            ev(type="purchase", quantity=0),
            ev(type="purchase", quantity=1.5),
            ev(type="purchase", quantity=True),
            ev(type="purchase", order_id="a/b"),
            ev(type="click", price=10, currency="EUR"),
            ev(type="view", name="wishlist_add"),
            ev(type="custom"),
            ev(type="custom", name="Wishlist Add"),
            ev(type="custom", name="x" * 65),
            ev(type="custom", name="purchase"),
            ev(**custom, value=1),
            ev(**custom, properties={"1st": 1}),
            ev(**custom, properties={"a": None}),
            ev(**custom, properties={"a": {"b": 1}}),
            ev(**custom, properties={"a": "x" * 257}),
            ev(**custom, properties={f"p{k}": k for k in range(21)}),
            ev(**custom, price=1, currency="EUR"),
            ev(type="view", item_id=None),
        ]
    )
    assert got == [
        (0, "currency", "a price needs its currency (ISO 4217, e.g. EUR)"),
        (1, "currency", "a currency without a price; send both or neither"),
        (2, "currency", "'eur' is not an ISO 4217 currency code (three upper-case letters, e.g. EUR)"),
        (3, "price", "Input should be greater than or equal to 0"),
        (4, "price", "Input should be a finite number"),
        (5, "price", "Input should be a valid number"),
        (6, "quantity", "Input should be greater than or equal to 1"),
        (7, "quantity", "Input should be a valid integer"),
        (8, "quantity", "Input should be a valid integer"),
        (9, "order_id", f"id must not contain '/' (ids: {ID_RULE})"),
        (10, "price", "only a purchase event carries price; this one is a click"),
        (10, "currency", "only a purchase event carries currency; this one is a click"),
        (11, "name", "only a custom event carries name; this one is a view"),
        (12, "name", "a custom event needs a name (e.g. wishlist_add)"),
        (
            13,
            "name",
            "'Wishlist Add' is not a custom event name: lower-case letters, digits and '_', starting with a "
            "letter, at most 64 characters",
        ),
        (
            14,
            "name",
            f"'{'x' * 65}' is not a custom event name: lower-case letters, digits and '_', starting with a "
            "letter, at most 64 characters",
        ),
        (15, "name", "'purchase' is a built-in event type: send it as type 'purchase'"),
        (16, "value", "type 'custom' takes no value"),
        (17, "properties", "property name '1st' must be letters, digits and '_', starting with a letter, at most 64"),
        (18, "properties", "property 'a': expected text, a number or true/false (no null, list or object)"),
        (19, "properties", "property 'a': expected text, a number or true/false (no null, list or object)"),
        (20, "properties", "property 'a': text longer than 256 characters"),
        (21, "properties", "21 properties; at most 20"),
        (22, "price", "only a purchase event carries price; this one is a custom"),
        (22, "currency", "only a purchase event carries currency; this one is a custom"),
        (23, "item_id", "a view event needs an item_id"),
    ]
