"""The ingestion pipeline against the real store: exactly once, bursts, bot guard, consent."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest

from graphrec import clock
from graphrec.events.cleaning import BotLimits
from graphrec.events.pipeline import ConsentRefused, EventPipeline, IngestReport
from graphrec.events.policy import load_policy
from graphrec.events.schema import EventIn, validate_events
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.port import EventKey, EventWriteResult, GraphStore
from graphrec.graph.records import InteractionDelta, UserRecord

NOW = clock.now_ms()


def batch(*specs: dict[str, Any]) -> list[EventIn]:
    raw = []
    for k, s in enumerate(specs):
        r = {
            "event_id": f"e{k}",
            "user_id": "u",
            "item_id": "i",
            "type": "click",
            "timestamp": NOW - 60_000 + k * 5_000,
        }
        r.update(s)
        raw.append(r)
    return validate_events(raw, now_ms=NOW, skew_ms=0)


def snapshot(store: FalkorDBStore) -> dict[tuple[str, str], tuple[float, int]]:
    return {(e.user_id, e.item_id): (e.weight, e.count) for page in store.iter_interaction_aggregates() for e in page}


@pytest.fixture
def pipeline(store: FalkorDBStore) -> EventPipeline:
    return EventPipeline(store, load_policy(), burst_window_ms=1_000, bot_limits=BotLimits(max_per_minute=20))


def test_replaying_a_batch_changes_nothing_and_reports_duplicates(
    store: FalkorDBStore, pipeline: EventPipeline
) -> None:
    events = batch(
        {"item_id": "a"},
        {"item_id": "b", "type": "purchase"},
        {"anonymous_id": "x", "user_id": None},
        {"item_id": "a", "type": "dwell", "value": 30.0},
    )
    first = pipeline.ingest(events)
    assert (first.applied, first.duplicates, first.edges) == (4, 0, 3)
    before = snapshot(store)
    again = pipeline.ingest(events)
    assert (again.applied, again.duplicates, again.edges) == (0, 4, 0)
    assert again.duplicate_ids == ["e0", "e1", "e2", "e3"]
    assert snapshot(store) == before


def test_partly_seen_batch_applies_only_the_new_events(store: FalkorDBStore, pipeline: EventPipeline) -> None:
    pipeline.ingest(batch({"item_id": "a"}))
    report = pipeline.ingest(batch({"item_id": "a"}, {"item_id": "a", "type": "like"}, {"item_id": "a"}))
    # e0 was seen before; e2 is a new id (another click 10 s later, outside the burst window): counts.
    assert (report.applied, report.duplicates, report.duplicate_ids) == (2, 1, ["e0"])
    e = store.user_interactions(user_id="u")[0]
    assert (e.weight, e.count) == (pytest.approx(1.0 + 2.0 + 1.0), 3)


def test_same_id_twice_in_one_batch_counts_once(store: FalkorDBStore, pipeline: EventPipeline) -> None:
    # the same event (same content) twice; the same id with other content is a conflict (test_idempotency)
    report = pipeline.ingest(
        batch({"event_id": "dup", "timestamp": NOW - 1_000}, {"event_id": "dup", "timestamp": NOW - 1_000})
    )
    assert (report.applied, report.duplicates) == (1, 1)
    assert store.user_interactions(user_id="u")[0].count == 1


def test_event_ids_are_scoped_to_their_actor(store: FalkorDBStore, pipeline: EventPipeline) -> None:
    report = pipeline.ingest(batch({"event_id": "1", "user_id": "a"}, {"event_id": "1", "user_id": "b"}))
    assert (report.applied, report.duplicates) == (2, 0)


def test_bursts_of_identical_events_count_once(store: FalkorDBStore, pipeline: EventPipeline) -> None:
    t = NOW - 10_000
    report = pipeline.ingest(
        batch(
            {"timestamp": t},
            {"timestamp": t + 200},
            {"timestamp": t + 900},  # double/triple click
            {"timestamp": t + 1_500},  # 1.5 s after the counted one
            {"timestamp": t + 300, "type": "add_to_cart"},  # another type: counts
            {"timestamp": t + 100, "item_id": "other"},  # another item: counts
        )
    )
    assert (report.applied, report.collapsed) == (4, 2)
    got = {e.item_id: e for e in store.user_interactions(user_id="u")}
    assert dict(got["i"].type_counts) == {"click": 2, "add_to_cart": 1}
    assert got["i"].weight == pytest.approx(2 * 1.0 + 3.0)
    # The collapsed events' ids were recorded: a retry of the whole batch is all duplicates.
    assert pipeline.ingest(batch({"timestamp": t}, {"timestamp": t + 200})).duplicates == 2


def test_bot_guard_flags_and_drops(store: FalkorDBStore, pipeline: EventPipeline) -> None:
    t = (NOW // 60_000 - 2) * 60_000 + 59_000  # one second before a calendar minute's end: the flood straddles it
    bot = [{"event_id": f"b{k}", "user_id": "bot", "item_id": f"i{k}", "timestamp": t + k * 100} for k in range(21)]
    human = [{"event_id": "h", "user_id": "human", "item_id": "i0", "timestamp": t}]
    report = pipeline.ingest(batch(*bot, *human))
    assert (report.applied, report.flagged, report.flagged_actors) == (1, 21, ["bot"])
    assert report.flagged_rules == {"bot": "rate"}
    assert store.user_interactions(user_id="bot") == []
    # The limit also counts what this process saw earlier within 60 s.
    ok = pipeline.ingest(batch(*[dict(b, user_id="slow", event_id=f"s{k}") for k, b in enumerate(bot[:15])]))
    assert ok.applied == 15
    late = pipeline.ingest(batch(*[dict(b, user_id="slow", event_id=f"t{k}") for k, b in enumerate(bot[:6])]))
    assert (late.applied, late.flagged_actors) == (0, ["slow"])
    # ... the events it dropped too: a bot that keeps flooding stays flagged
    again = pipeline.ingest(batch(*[dict(b, user_id="slow", event_id=f"r{k}") for k, b in enumerate(bot[:1])]))
    assert (again.applied, again.flagged_actors) == (0, ["slow"])
    # a minute later (event time) its window holds none of those: counted again
    later = [dict(b, user_id="slow", event_id=f"l{k}", timestamp=t + 61_000 + k) for k, b in enumerate(bot[:3])]
    assert pipeline.ingest(batch(*later)).applied == 3


def test_users_without_consent_are_refused(store: FalkorDBStore, pipeline: EventPipeline) -> None:
    store.upsert_users([UserRecord("no", {"consent": False})])
    events = batch({"user_id": "yes"}, {"user_id": "no"}, {"user_id": "no", "item_id": "j"})
    with pytest.raises(ConsentRefused) as info:
        pipeline.ingest(events)
    assert (info.value.users, info.value.indices) == (["no"], [1, 2])
    assert store.counts().interactions == 0  # nothing of the batch was written
    report = pipeline.ingest(events, on_refused="drop")
    assert (report.applied, report.refused, report.refused_users) == (1, 2, ["no"])
    assert store.user_interactions(user_id="no") == []


def test_acknowledged_events_are_visible_to_reads_and_traversal_at_once(
    store: FalkorDBStore, pipeline: EventPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.ingest(batch({"user_id": "other", "item_id": "a"}, {"user_id": "other", "item_id": "b"}))
    order: list[str] = []
    write = store.upsert_interactions_once

    def recorded(*args: Any, **kwargs: Any) -> Any:
        result = write(*args, **kwargs)
        order.append("written")
        return result

    monkeypatch.setattr(store, "upsert_interactions_once", recorded)
    pipeline.ingest(batch({"user_id": "me", "item_id": "a", "event_id": "m"}))
    order.append("acknowledged")
    assert order == ["written", "acknowledged"]  # the write is synchronous: done before ingest returns
    # ...so the very next reads, with no wait or retry, see it (no cache or queue in between)
    assert [e.item_id for e in store.user_interactions(user_id="me")] == ["a"]
    got = store.co_interaction_candidates_for_user(user_id="me", now_ms=clock.now_ms(), half_life_days=30)
    assert [c.item_id for c in got] == ["b"]


class RacingStore:
    """The real store, with a concurrent writer that records one of each write's events just before that
    write (as another API process retrying the same events would), for the first ``races`` writes."""

    def __init__(self, store: FalkorDBStore, races: int) -> None:
        self._store = store
        self.races = races
        self.writes = 0

    def upsert_interactions_once(
        self, deltas: Sequence[InteractionDelta], *, events: Sequence[EventKey], now_ms: int
    ) -> EventWriteResult:
        self.writes += 1
        if self.races > 0:
            self.races -= 1
            assert self._store.upsert_interactions_once([], events=[events[-1]], now_ms=now_ms).applied
        return self._store.upsert_interactions_once(deltas, events=events, now_ms=now_ms)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _ingest_with(store: FalkorDBStore, races: int, *, run: str) -> tuple[IngestReport, RacingStore]:
    racing = RacingStore(store, races)
    pipeline = EventPipeline(
        cast(GraphStore, racing), load_policy(), burst_window_ms=1_000, bot_limits=BotLimits(max_per_minute=100)
    )
    events = batch(*({"item_id": f"i{k}"} for k in range(10)))
    if run == "sync":
        return pipeline.ingest(events), racing
    return asyncio.run(pipeline.ingest_async(events)), racing


@pytest.mark.parametrize("run", ["sync", "async"])
def test_a_batch_applied_on_its_last_allowed_write_is_done(store: FalkorDBStore, run: str) -> None:
    # 7 writes refused (each found one event recorded meanwhile), the 8th and last allowed one applied.
    report, racing = _ingest_with(store, 7, run=run)
    assert racing.writes == 8
    assert (report.applied, report.duplicates, report.edges) == (3, 7, 3)
    assert len(snapshot(store)) == 3


@pytest.mark.parametrize("run", ["sync", "async"])
def test_a_batch_that_keeps_racing_is_given_up_with_nothing_of_it_written(store: FalkorDBStore, run: str) -> None:
    with pytest.raises(RuntimeError, match="kept conflicting with concurrent writes"):
        _ingest_with(store, 8, run=run)
    assert snapshot(store) == {}
