"""Trigger marks: what ``graphrec consume`` leaves in the event log's file for the API's trigger worker.

The worker is the API's own (:class:`graphrec.serving.webhooks.TriggerWorker`), over a real SQLite file; its
deliveries are not run here (``tests/events/test_kafka_listeners.py`` delivers through a broker and a real
receiver): these tests hold the marks' rules, evaluation once per crossing however often a user is marked,
a mark made during an evaluation surviving it, and erasure.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from graphrec import clock
from graphrec.behaviour.trigger_marks import TriggerMarks
from graphrec.behaviour.triggers import parse_rules
from graphrec.config import Settings
from graphrec.events.log import EventLog, LoggedEvent
from graphrec.events.tombstones import Tombstones
from graphrec.serving.erasure import Eraser
from graphrec.serving.webhooks import TriggerWorker, WebhookTarget

RULES = parse_rules('[{"name": "intent", "feature": "purchase_intent", "above": 0.7}]')


def _carts(actor: str, n: int, *, prefix: str = "c") -> list[LoggedEvent]:
    now = clock.now_ms()
    return [LoggedEvent(actor, f"{prefix}{k}", f"i{k}", "add_to_cart", now - k) for k in range(n)]


def _worker(log: EventLog) -> TriggerWorker:
    target = WebhookTarget(url="http://127.0.0.1:9/hook", secret=b"s" * 16)
    return TriggerWorker(log=log, rules=RULES, target=target, categories=dict)


def test_a_mark_made_again_before_the_clear_survives_it(tmp_path: Path) -> None:
    marks = TriggerMarks(tmp_path / "events.sqlite")
    marks.mark(_carts("u1", 2) + _carts("u2", 1))
    read = marks.pending(limit=10)
    assert read == [("u1", 1), ("u2", 1)]
    marks.mark(_carts("u1", 1, prefix="again"))  # u1 marked again while the read marks were evaluated
    marks.clear(read)
    assert marks.pending(limit=10) == [("u1", 2)]  # u2 done; u1 is evaluated once more
    assert marks.pending(limit=1) == [("u1", 2)]
    marks.mark([])
    assert marks.pending(limit=10) == [("u1", 2)]


def test_the_worker_evaluates_marked_users_once_per_crossing_and_clears_their_marks(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite")
    batch = _carts("u1", 2) + _carts("u2", 1)  # u1's intent 1 - e^-2 = 0.86; u2's 0.63
    log.append(batch)  # what the consumer's pipeline did: the log, then its listeners
    marks = TriggerMarks(log.path)
    marks.mark(batch)
    worker = _worker(log)
    fired = worker.evaluate_dirty()
    assert [(f.rule, f.user_id) for f in fired] == [("intent", "u1")]
    assert marks.pending(limit=10) == []
    assert len(worker.outbox.rows()) == 1
    marks.mark(batch)  # the same batch redelivered by Kafka: logged again as duplicates, marked again
    assert worker.evaluate_dirty() == [] and len(worker.outbox.rows()) == 1
    assert marks.pending(limit=10) == []


def test_marks_past_the_per_tick_limit_wait_for_the_next_tick(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite")
    batch = [e for u in range(5) for e in _carts(f"u{u}", 2, prefix=f"u{u}-")]
    log.append(batch)
    TriggerMarks(log.path).mark(batch)
    worker = _worker(log)
    worker.marks_per_tick = 2
    seen = [sorted(f.user_id for f in worker.evaluate_dirty()) for _ in range(4)]
    assert seen == [["u0", "u1"], ["u2", "u3"], ["u4"], []]


def test_erasure_and_merge_take_the_marks_along(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.sqlite")
    marks = TriggerMarks(log.path)
    marks.mark(_carts("anon:v1", 1) + _carts("u2", 1))
    log.merge(source="anon:v1", target="u1")  # a visitor signs in: the mark is the user's now
    assert marks.pending(limit=10) == [("u1", 1), ("u2", 1)]
    settings = Settings(_env_file=None, erasure_secret=SecretStr("e" * 32))  # type: ignore[call-arg]
    eraser = Eraser.for_log(
        None,  # type: ignore[arg-type] - the owners of the log file's tables are what is checked, not the store
        log,
        Tombstones.beside(log.path, settings),
        models_path=tmp_path / "models",
        compact_timeout_s=1.0,
    )
    owners = [owner for owner in eraser.owners if isinstance(owner, TriggerMarks)]
    assert len(owners) == 1 and owners[0].path == log.path
    for owner in eraser.owners:  # what Eraser.erase does after the store and the log
        owner.forget(["u1"])
    assert marks.pending(limit=10) == [("u2", 1)]
