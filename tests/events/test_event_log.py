"""The event log: every settled event once, with its context, written before the acknowledgement;
merge and erasure follow the user; nothing of a refused batch is logged. Runs on the real embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from graphrec import clock
from graphrec.events import identity
from graphrec.events.cleaning import BotLimits
from graphrec.events.log import (
    BOT,
    COUNTED,
    EventLog,
    EventLogUnavailable,
    LoggedEvent,
    connect,
    create_tables,
    transaction,
)
from graphrec.events.pipeline import ConsentRefused, EventPipeline
from graphrec.events.policy import load_policy
from graphrec.events.schema import EventIn, validate_events
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.records import UserRecord

NOW = clock.now_ms()


def batch(*specs: dict[str, Any]) -> list[EventIn]:
    raw = []
    for k, s in enumerate(specs):
        r: dict[str, Any] = {
            "event_id": f"e{k}",
            "user_id": "u",
            "item_id": "i",
            "type": "click",
            "timestamp": NOW - 60_000 + k * 5_000,
        }
        r.update(s)
        raw.append(r)
    return validate_events(raw, now_ms=NOW, skew_ms=0)


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return EventLog(tmp_path / "log.sqlite")


@pytest.fixture
def pipeline(store: FalkorDBStore, log: EventLog) -> EventPipeline:
    return EventPipeline(store, load_policy(), burst_window_ms=1_000, bot_limits=BotLimits(max_per_minute=20), log=log)


def test_append_is_exactly_once_per_actor_and_event_id(log: EventLog) -> None:
    row = LoggedEvent("u", "e1", "i", "view", NOW, None, "s1", "mobile", "home")
    assert log.append([row, LoggedEvent("v", "e1", "i", "view", NOW)]) == 2  # ids are scoped to their actor
    assert log.append([row]) == 0
    assert [(e.event_id, e.session_id, e.device, e.section) for e in log.user_events("u")] == [
        ("e1", "s1", "mobile", "home")
    ]


def test_a_batch_is_logged_with_its_context_and_a_replay_adds_nothing(pipeline: EventPipeline, log: EventLog) -> None:
    ctx = {"session_id": "s-42", "device": "mobile", "page_section": "carousel"}
    events = batch(
        {"item_id": "a", "context": ctx},
        {"item_id": "b", "type": "dwell", "value": 12.5},
        {"anonymous_id": "x", "user_id": None, "context": ctx},
    )
    pipeline.ingest(events)
    mine = log.user_events("u")
    assert [(e.event_id, e.item_id, e.type, e.value, e.session_id, e.device, e.section, e.flag) for e in mine] == [
        ("e0", "a", "click", None, "s-42", "mobile", "carousel", COUNTED),
        ("e1", "b", "dwell", 12.5, None, None, None, COUNTED),
    ]
    assert [e.event_id for e in log.user_events("anon:x")] == ["e2"]
    pipeline.ingest(events)  # the client's retry: duplicates, and still one row each
    assert log.count() == 3


def test_bot_flagged_events_are_logged_with_their_flag(pipeline: EventPipeline, log: EventLog) -> None:
    # 30 events within 3 s: over the limit of 20 in any 60 s (sliding: where the minute's edges fall
    # no longer matters, as it did when the guard counted calendar minutes)
    flood = batch(*({"item_id": f"i{k}", "timestamp": NOW - 120_000 + k * 100} for k in range(30)))
    report = pipeline.ingest(flood)
    assert report.flagged > 0
    flags = [e.flag for e in log.user_events("u")]
    assert len(flags) == 30 and flags.count(BOT) == report.flagged


def test_a_log_failure_is_not_acknowledged_and_the_retry_logs_the_events(
    store: FalkorDBStore,
    pipeline: EventPipeline,
    log: EventLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = batch({"item_id": "a"}, {"item_id": "b"})
    real_append = log.append
    calls = {"n": 0}

    def failing_once(rows: Any, **kw: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise EventLogUnavailable("disk full")
        return real_append(rows, **kw)

    monkeypatch.setattr(log, "append", failing_once)
    with pytest.raises(EventLogUnavailable):  # the edges committed, the log did not: no acknowledgement
        pipeline.ingest(events)
    assert store.user_interactions(user_id="u") and log.count() == 0
    retry = pipeline.ingest(events)  # the client retries: the store says "seen", the log gets them now
    assert (retry.applied, retry.duplicates) == (0, 2)
    assert [e.event_id for e in log.user_events("u")] == ["e0", "e1"]


def test_a_refused_batch_logs_nothing(store: FalkorDBStore, pipeline: EventPipeline, log: EventLog) -> None:
    store.upsert_users([UserRecord("u", {"consent": False})])
    with pytest.raises(ConsentRefused):
        pipeline.ingest(batch({"item_id": "a"}))
    assert log.count() == 0


def test_merge_moves_a_visitors_rows_and_erasure_deletes_them(
    store: FalkorDBStore,
    pipeline: EventPipeline,
    log: EventLog,
) -> None:
    pipeline.ingest(batch({"anonymous_id": "x", "user_id": None, "item_id": "a"}, {"item_id": "b"}))
    outcome = identity.merge_anonymous(store, user_id="u", anonymous_ids=["x"], log=log)
    assert outcome.merged == ["x"]
    assert sorted(e.item_id for e in log.user_events("u")) == ["a", "b"] and not log.user_events("anon:x")
    # a retried merge (the store already merged) still finds nothing left to move and changes nothing
    assert identity.merge_anonymous(store, user_id="u", anonymous_ids=["x"], log=log).not_found == ["x"]
    assert identity.erase(store, user_id="u", log=log)
    assert log.count() == 0 and not store.user_exists(user_id="u")


def test_purchase_details_and_custom_events_are_logged_never_edges_and_go_with_the_user(
    store: FalkorDBStore,
    pipeline: EventPipeline,
    log: EventLog,
) -> None:
    events = batch(
        {"item_id": "a", "type": "purchase", "price": 19.99, "currency": "EUR", "quantity": 2, "order_id": "o1"},
        {"item_id": "b", "type": "purchase"},
        {"item_id": "a", "type": "custom", "name": "wishlist_add", "properties": {"list": "summer"}},
        {"item_id": None, "type": "custom", "name": "newsletter_signup", "context": {"session_id": "s1"}},
        {"anonymous_id": "x", "user_id": None, "item_id": None, "type": "custom", "name": "newsletter_signup"},
    )
    report = pipeline.ingest(events)
    assert (report.applied, report.custom, report.duplicates) == (2, 3, 0)
    # price and quantity weigh nothing, the wishlist_add on "a" adds nothing: both edges are one purchase
    weights = {e.item_id: e.weight for e in store.user_interactions(user_id="u")}
    assert weights == {"a": load_policy().base["purchase"], "b": load_policy().base["purchase"]}
    assert not store.user_exists(user_id="anon:x")  # a visitor with only custom events is no graph user

    def table(query: str) -> list[tuple[Any, ...]]:
        with connect(log.path) as db:
            return db.execute(query).fetchall()

    assert table("SELECT actor, event_id, price, currency, quantity, order_id FROM purchases") == [
        ("u", "e0", 19.99, "EUR", 2, "o1")
    ]
    assert table("SELECT actor, event_id, name, item_id, properties, session_id FROM custom_events ORDER BY 1, 2") == [
        ("anon:x", "e4", "newsletter_signup", None, None, None),
        ("u", "e2", "wishlist_add", "a", '{"list":"summer"}', None),
        ("u", "e3", "newsletter_signup", None, None, "s1"),
    ]
    assert [e.type for e in log.user_events("u")] == ["purchase", "purchase"]  # the log of edge types stays closed
    assert log.custom_counts() == [("newsletter_signup", 2, 2), ("wishlist_add", 1, 1)]
    again = pipeline.ingest(events)
    assert (again.applied, again.custom, again.duplicates) == (0, 0, 5)
    assert len(table("SELECT 1 FROM custom_events")) == 3 and len(table("SELECT 1 FROM purchases")) == 1

    identity.merge_anonymous(store, user_id="u", anonymous_ids=["x"], log=log)
    assert table("SELECT DISTINCT actor FROM custom_events") == [("u",)]
    assert identity.erase(store, user_id="u", log=log)
    assert table("SELECT count(*) FROM custom_events") == [(0,)] and table("SELECT count(*) FROM purchases") == [(0,)]


def test_columns_code_actors_items_sessions_and_devices(log: EventLog) -> None:
    log.append(
        [
            LoggedEvent("u", "1", "a", "view", NOW - 2000, None, "s", "web"),
            LoggedEvent("u", "2", "b", "scroll", NOW - 1000, 0.5, "s", None),
            LoggedEvent("v", "1", "a", "purchase", NOW),
        ]
    )
    cols = log.columns()
    assert cols.actors == ["u", "v"] and cols.items == ["a", "b"]
    assert cols.actor.tolist() == [0, 0, 1] and cols.device.tolist() == [0, -1, -1]
    assert cols.session.tolist() == [0, 0, -1] and cols.value[1] == 0.5
    assert len(log.columns(actors=["v"])) == 1 and len(log.columns(since_ms=NOW - 1500)) == 2


def test_a_transaction_commits_what_its_block_wrote_and_nothing_when_it_raises(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    create_tables(path, "CREATE TABLE IF NOT EXISTS t (x INTEGER);")
    with connect(path) as db:
        with transaction(db):
            db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(RuntimeError), transaction(db):
            db.execute("INSERT INTO t VALUES (2)")
            raise RuntimeError("half a batch")
        assert db.execute("SELECT x FROM t").fetchall() == [(1,)]
        assert not db.in_transaction
