"""Writes test/fixtures/events.json: purchase and custom events with the server's verdict
(graphrec.events.schema), so the tracker's client-side checks are tested against the real ones
(test/commerce.test.ts) and tests/events/test_event_fixture.py keeps the verdicts current. Run from
web/tracker:
    PYTHONPATH=../../src python scripts/events-fixture.py
"""

import json
from pathlib import Path

from graphrec.events.schema import EventValidationError, validate_event

NOW = 1_750_000_000_000
BASE = {"event_id": "e1", "anonymous_id": "a-1", "timestamp": NOW - 1_000}
BUY = {**BASE, "type": "purchase", "item_id": "sku-1"}
CUSTOM = {**BASE, "type": "custom", "name": "wishlist_add"}

CASES = [
    BUY,
    {**BUY, "price": 19.99, "currency": "EUR"},
    {**BUY, "price": 0, "currency": "JPY", "quantity": 1, "order_id": "o-1"},
    {**BUY, "price": 1e9, "currency": "USD", "quantity": 100_000},
    {**BUY, "quantity": 3},
    {**BUY, "order_id": "order 7"},
    {**BUY, "price": 10},
    {**BUY, "currency": "EUR"},
    {**BUY, "price": 10, "currency": "eur"},
    {**BUY, "price": 10, "currency": "EURO"},
    {**BUY, "price": 10, "currency": "E1R"},
    {**BUY, "price": -0.01, "currency": "EUR"},
    {**BUY, "price": 1e9 + 1, "currency": "EUR"},
    {**BUY, "price": "10", "currency": "EUR"},
    {**BUY, "quantity": 0},
    {**BUY, "quantity": 1.5},
    {**BUY, "quantity": 100_001},
    {**BUY, "order_id": "a/b"},
    {**BUY, "order_id": ""},
    {**BASE, "type": "add_to_cart", "item_id": "sku-1", "price": 1, "currency": "EUR"},
    {**BASE, "type": "click", "item_id": "sku-1", "order_id": "o-1"},
    {**BASE, "type": "click", "item_id": "sku-1", "quantity": 2},
    CUSTOM,
    {**CUSTOM, "item_id": "sku-1"},
    {**CUSTOM, "name": "a"},
    {**CUSTOM, "name": "size_guide_open2"},
    {**CUSTOM, "name": "x" * 64},
    {**CUSTOM, "name": "x" * 65},
    {**CUSTOM, "name": "Wishlist"},
    {**CUSTOM, "name": "2fa_enabled"},
    {**CUSTOM, "name": "_private"},
    {**CUSTOM, "name": "wish-list"},
    {**CUSTOM, "name": ""},
    {**CUSTOM, "name": "view"},
    {**CUSTOM, "name": "purchase"},
    {**CUSTOM, "name": "custom"},
    {k: v for k, v in CUSTOM.items() if k != "name"},
    {**CUSTOM, "value": 1},
    {**CUSTOM, "item_id": "a/b"},
    {**CUSTOM, "properties": {}},
    {**CUSTOM, "properties": {"list": "summer", "position": 3, "ratio": 0.5, "gift": True, "Z_9": "x" * 256}},
    {**CUSTOM, "properties": {"a": "x" * 257}},
    {**CUSTOM, "properties": {"a": "é" * 256}},
    {**CUSTOM, "properties": {"a": None}},
    {**CUSTOM, "properties": {"a": [1]}},
    {**CUSTOM, "properties": {"a": {"b": 1}}},
    {**CUSTOM, "properties": {"1a": 1}},
    {**CUSTOM, "properties": {"a.b": 1}},
    {**CUSTOM, "properties": {"a-b": 1}},
    {**CUSTOM, "properties": {"": 1}},
    {**CUSTOM, "properties": {"k" * 64: 1}},
    {**CUSTOM, "properties": {"k" * 65: 1}},
    {**CUSTOM, "properties": {f"p{k}": k for k in range(20)}},
    {**CUSTOM, "properties": {f"p{k}": k for k in range(21)}},
    {**CUSTOM, "price": 1, "currency": "EUR"},
    {**BASE, "type": "click", "item_id": "sku-1", "name": "wishlist_add"},
    {**BASE, "type": "click", "item_id": "sku-1", "properties": {"a": 1}},
    {**BASE, "type": "view"},
]


def verdict(event: dict[str, object]) -> str | None:
    """The field the server refuses the event for (its first error), or None when it accepts it."""
    try:
        validate_event(event, now_ms=NOW, skew_ms=300_000)
    except EventValidationError as exc:
        return exc.errors[0].field
    return None


def cases() -> list[dict[str, object]]:
    return [{"event": e, "refused": verdict(e)} for e in CASES]


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "test" / "fixtures" / "events.json"
    out.write_text(json.dumps(cases(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}")
