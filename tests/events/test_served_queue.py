"""Served lists are queued by the request path and written in batches (FeedbackLog.queue_served).

What must hold: nothing is written until a flush, every read of served lists sees what was queued,
a failed flush loses nothing, erasure takes queued lists too, and a flush racing a read never lets the
read miss a list queued before it.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from deadlines import Threads

from graphrec import clock
from graphrec.config import Settings
from graphrec.events.feedback import FeedbackLog, ServedList, UnknownRecommendation
from graphrec.events.log import EventLogUnavailable
from graphrec.events.tombstones import Tombstones


def _served(rec_id: str, actor: str = "u1", created_ms: int = 1_000) -> ServedList:
    return ServedList(rec_id, actor, "user", "v1", None, None, None, [("i1", "graph"), ("i2", "embedding")], created_ms)


def _rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT rec_id, actor FROM served ORDER BY rec_id").fetchall()


def test_queued_lists_reach_the_file_only_at_a_flush_and_all_at_once(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "events.db")
    for n in range(3):
        log.queue_served(_served(f"r{n}"))
    assert _rows(log.path) == []
    assert log.flush_served() == 3
    assert _rows(log.path) == [("r0", "u1"), ("r1", "u1"), ("r2", "u1")]
    assert log.flush_served() == 0  # nothing twice


def test_every_read_of_served_lists_sees_what_was_queued(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "events.db")
    log.queue_served(_served("r1"))
    assert log.record_impressions(rec_id="r1", actor="u1", item_ids=["i2"], ts=2_000) == 1
    log.queue_served(_served("r2"))
    found = log.served_list("r2")
    assert found is not None and found.items == [("i1", "graph"), ("i2", "embedding")]
    log.queue_served(_served("r3"))
    assert sum(c.served for c in log.arm_counts(None)) == 3
    with pytest.raises(UnknownRecommendation):  # still refused when it was never served to this actor
        log.record_impressions(rec_id="r3", actor="someone-else", item_ids=["i1"], ts=2_000)


def test_a_failed_flush_keeps_the_queue_for_the_next_one(tmp_path: Path) -> None:
    class FailsOnce(Tombstones):
        failed = False

        def erased_at(self, *args: object, **kwargs: object) -> dict[str, int]:  # type: ignore[override]
            if not FailsOnce.failed:
                FailsOnce.failed = True
                raise EventLogUnavailable("the disk is full")
            return super().erased_at(*args, **kwargs)  # type: ignore[arg-type]

    settings = Settings(data_dir=tmp_path)
    log = FeedbackLog(tmp_path / "events.db", tombstones=FailsOnce.beside(tmp_path / "events.db", settings))
    log.queue_served(_served("r1"))
    with pytest.raises(EventLogUnavailable):
        log.flush_served()
    log.queue_served(_served("r2"))
    assert _rows(log.path) == []
    assert log.flush_served() == 2
    assert [r for r, _ in _rows(log.path)] == ["r1", "r2"]


def test_erasure_takes_queued_lists_and_drops_those_queued_after_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    tombstones = Tombstones.beside(tmp_path / "events.db", settings)
    log = FeedbackLog(tmp_path / "events.db", tombstones=tombstones)
    now = clock.now_ms()  # tombstones older than their retention window do not count
    log.queue_served(_served("before", created_ms=now - 2_000))
    log.queue_served(_served("other", actor="u2", created_ms=now - 2_000))
    tombstones.record(["u1"], erased_ms=now - 1_000)
    log.forget(["u1"])
    log.queue_served(_served("stale", created_ms=now - 1_500))  # computed before the erasure, queued after
    log.queue_served(_served("back", created_ms=now), returned=True)  # signed up again, with history
    log.flush_served()
    assert _rows(log.path) == [("back", "u1"), ("other", "u2")]


def test_a_read_racing_a_flush_never_misses_a_list_queued_before_it(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "events.db")
    stop = threading.Event()

    def flusher() -> None:
        while not stop.is_set():
            log.flush_served()

    threads = Threads()  # a flush that raised fails the test at join
    threads.start(flusher, name="flusher")
    try:
        for n in range(50):
            log.queue_served(_served(f"r{n}"))
            assert log.record_impressions(rec_id=f"r{n}", actor="u1", item_ids=["i1"], ts=2_000) == 1
    finally:
        stop.set()
        threads.join()
    assert len(_rows(log.path)) == 50
