"""Reused event ids: the same content is a duplicate, other content refuses the batch (both stores)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from graphrec import clock
from graphrec.events.cleaning import event_key
from graphrec.events.idempotency import IdempotencyConflict, fingerprint
from graphrec.events.pipeline import EventPipeline
from graphrec.events.policy import load_policy
from graphrec.events.replay import ReplayError, replay_file
from graphrec.events.schema import EventIn, validate_events
from graphrec.graph.port import EventKey, GraphStore
from graphrec.graph.records import InteractionDelta

NOW = clock.now_ms()
TS = NOW - 60_000


def events(*specs: dict[str, Any]) -> list[EventIn]:
    raw = [
        {"event_id": f"e{k}", "user_id": "u", "item_id": "i", "type": "click", "timestamp": TS + k * 5_000, **s}
        for k, s in enumerate(specs)
    ]
    return validate_events(raw, now_ms=NOW, skew_ms=0)


def edges(store: GraphStore) -> dict[tuple[str, str], tuple[float, int]]:
    return {(e.user_id, e.item_id): (e.weight, e.count) for page in store.iter_interaction_aggregates() for e in page}


def pipeline_for(store: GraphStore) -> EventPipeline:
    return EventPipeline(store, load_policy(), burst_window_ms=1_000)


def test_fingerprint_is_the_normalised_content() -> None:
    iso = datetime.fromtimestamp(TS / 1000, tz=UTC).isoformat()
    a, b, c, d = events(
        {"timestamp": TS, "type": "dwell", "value": 30},
        {"timestamp": iso, "type": "dwell", "value": 30.0, "context": {}},
        {"timestamp": TS, "type": "dwell", "value": 30.5},
        {"timestamp": TS, "type": "dwell", "value": 30, "context": {"device": "mobile"}},
    )
    assert fingerprint(a) == fingerprint(b)  # epoch ms = ISO text, 30 = 30.0, no context = {}
    assert len({fingerprint(a), fingerprint(c), fingerprint(d)}) == 3
    assert fingerprint(a) != fingerprint(events({"item_id": "j", "timestamp": TS, "type": "dwell", "value": 30})[0])


def test_purchase_details_and_custom_fields_are_content_and_older_events_keep_their_fingerprint() -> None:
    (plain,) = events({"timestamp": TS, "context": {"device": "mobile"}})
    canonical = json.dumps(["i", "click", TS, None, [None, "mobile", None, None, None]], separators=(",", ":"))
    assert fingerprint(plain) == hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()  # as stored before
    buy = {"timestamp": TS, "type": "purchase", "price": 10.0, "currency": "EUR", "order_id": "o1"}
    a, b, c, d, e = events(
        buy,
        {**buy, "price": 10, "quantity": 1},
        {**buy, "price": 12.5},
        {**buy, "quantity": 2},
        {**buy, "order_id": "o2"},
    )
    assert fingerprint(a) == fingerprint(b)  # 10 = 10.0, a quantity of 1 = none
    assert len({fingerprint(x) for x in (a, c, d, e)}) == 4
    (bare,) = events({"timestamp": TS, "type": "purchase"})
    assert fingerprint(bare) != fingerprint(a)
    custom = {"timestamp": TS, "type": "custom", "name": "wishlist_add", "properties": {"a": 1, "b": "x"}}
    f, g, h, k = events(
        custom,
        {**custom, "properties": {"b": "x", "a": 1}},
        {**custom, "name": "wishlist_remove"},
        {**custom, "properties": {"a": 2, "b": "x"}},
    )
    assert fingerprint(f) == fingerprint(g)  # properties in any order
    assert len({fingerprint(x) for x in (f, h, k)}) == 3


def test_a_purchase_retried_with_another_price_is_a_conflict(any_store: GraphStore) -> None:
    pipeline = pipeline_for(any_store)
    buy = {"type": "purchase", "price": 10.0, "currency": "EUR", "quantity": 1}
    pipeline.ingest(events(buy))
    assert pipeline.ingest(events(buy)).duplicates == 1
    with pytest.raises(IdempotencyConflict):
        pipeline.ingest(events({**buy, "price": 1.0}))


def test_a_reused_id_in_one_batch_refuses_the_batch(any_store: GraphStore) -> None:
    batch = events(
        {"event_id": "x"}, {"event_id": "y"}, {"event_id": "x", "item_id": "other"}, {"event_id": "y"}
    )  # y again: same id, but 5 s later: other content too
    with pytest.raises(IdempotencyConflict) as info:
        pipeline_for(any_store).ingest(batch)
    assert [(c.index, c.event_id) for c in info.value.conflicts] == [(2, "x"), (3, "y")]
    assert "also event 0 of this batch, with different content" in info.value.conflicts[0].reason
    assert edges(any_store) == {}
    # nothing was recorded: the corrected batch goes in whole
    assert pipeline_for(any_store).ingest(batch[:2]).applied == 2


def test_an_identical_event_twice_in_one_batch_stays_a_duplicate(any_store: GraphStore) -> None:
    (e,) = events({"event_id": "x"})
    report = pipeline_for(any_store).ingest([e, e.model_copy()])
    assert (report.applied, report.duplicates, report.duplicate_ids) == (1, 1, ["x"])


def test_a_reused_id_across_batches_refuses_the_batch_and_writes_nothing(any_store: GraphStore) -> None:
    pipeline = pipeline_for(any_store)
    first = events({"event_id": "x", "item_id": "a"}, {"event_id": "y", "item_id": "b"})
    assert pipeline.ingest(first).applied == 2
    before = edges(any_store)
    # a retry with the same content: duplicates, as before
    retry = pipeline.ingest(first)
    assert (retry.applied, retry.duplicates) == (0, 2)
    # a new event, then y reused for another item: the whole batch is refused
    reuse = events({"event_id": "new", "item_id": "c"}, {"event_id": "y", "item_id": "stolen"})
    with pytest.raises(IdempotencyConflict) as info:
        pipeline.ingest(reuse)
    assert [(c.index, c.event_id) for c in info.value.conflicts] == [(1, "y")]
    assert "already recorded for this actor with different content" in info.value.conflicts[0].reason
    assert edges(any_store) == before
    assert pipeline.ingest(reuse[:1]).applied == 1  # "new" was not recorded by the refused batch


def test_the_same_id_of_another_actor_is_no_conflict(any_store: GraphStore) -> None:
    pipeline = pipeline_for(any_store)
    pipeline.ingest(events({"event_id": "x", "item_id": "a"}))
    report = pipeline.ingest(events({"event_id": "x", "item_id": "b", "user_id": None, "anonymous_id": "v"}))
    assert report.applied == 1


def test_records_without_a_fingerprint_never_conflict(any_store: GraphStore) -> None:
    # written the way stores were written before fingerprints: keys only
    key = EventKey(key=event_key("u", "old"), user_id="u")
    delta = InteractionDelta("u", "a", 1.0, 1, TS, TS, {"click": 1}, {})
    assert any_store.upsert_interactions_once([delta], events=[key], now_ms=NOW).applied
    before = edges(any_store)
    report = pipeline_for(any_store).ingest(events({"event_id": "old", "item_id": "whatever"}))
    assert (report.applied, report.duplicates) == (0, 1)
    assert edges(any_store) == before


def test_a_replayed_file_names_the_conflicting_line(any_store: GraphStore, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    rows = [
        {"event_id": "x", "user_id": "u", "item_id": "a", "type": "click", "timestamp": TS},
        {"event_id": "y", "user_id": "u", "item_id": "a", "type": "click", "timestamp": TS + 5_000},
        {"event_id": "x", "user_id": "u", "item_id": "b", "type": "click", "timestamp": TS},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ReplayError) as info:
        replay_file(path, pipeline_for(any_store), now_ms=NOW, skew_ms=0)
    assert [(e.index, e.field) for e in info.value.errors] == [(3, "event_id")]
    assert edges(any_store) == {}
