"""Webhooks for triggers: a durable outbox, signed deliveries, retries with backoff.

Why an outbox: a firing is recorded in the same SQLite file as the trigger states before any HTTP
call, so a receiver that is down (or an API restart) delays a webhook but never loses it; delivery is
at least once, and every delivery carries its outbox id (``X-Graphrec-Delivery``) so a receiver can
drop repeats. Signature (Stripe's scheme, plus the delivery id): ``X-Graphrec-Signature: t=<unix
s>,v2=<hex HMAC-SHA256 of "<t>.<delivery id>.<body>" with the shared secret>``; a receiver recomputes
it and checks ``t`` is recent. The delivery id is signed because receivers drop repeats by it: were
it outside the signature, a captured delivery could be replayed under a fresh id and pass as new.
(``v1``, the signature without the id, is no longer sent.)

:class:`TriggerWorker` is the API's background thread: the ingest pipeline marks the users whose
events were just logged, the worker recomputes their profiles, evaluates the rules
(:mod:`graphrec.behaviour.triggers`), queues what fired and delivers what is due. Events applied by
``graphrec consume`` (stream mode) are marked by the consumer in the event log's file
(:mod:`graphrec.behaviour.trigger_marks`); the worker picks those marks up on every tick as well.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from graphrec.behaviour.profiles import build_profile
from graphrec.behaviour.trigger_marks import TriggerMarks
from graphrec.behaviour.triggers import Firing, TriggerBook, TriggerRule
from graphrec.clock import DAY_MS
from graphrec.events.log import EventLog, LoggedEvent, connect, create_tables, transaction
from graphrec.events.tombstones import Tombstones

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    payload      TEXT    NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_ms      INTEGER NOT NULL,
    delivered_ms INTEGER,
    dead         INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX IF NOT EXISTS webhook_due ON webhook_outbox (next_ms) WHERE delivered_ms IS NULL AND dead = 0;
"""


def sign(secret: bytes, body: bytes, *, delivery_id: str, at_s: int) -> str:
    """The ``X-Graphrec-Signature`` header value for delivery ``delivery_id`` of ``body`` sent at ``at_s``."""
    mac = hmac.new(secret, f"{at_s}.{delivery_id}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at_s},v2={mac}"


def verify(secret: bytes, body: bytes, header: str, *, delivery_id: str, now_s: int, tolerance_s: int = 300) -> bool:
    """What a receiver does: recompute the signature over the ``X-Graphrec-Delivery`` it got and refuse
    stale timestamps (replays of the same delivery; a new id on an old delivery fails the signature)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        at_s = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now_s - at_s) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, delivery_id=delivery_id, at_s=at_s), header)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    payload: str
    attempts: int
    delivered_ms: int | None
    dead: bool
    last_error: str | None


class Outbox:
    """Queued webhook payloads in the SQLite file at ``path``."""

    def __init__(self, path: Path, *, tombstones: Tombstones | None = None) -> None:
        self.path = path
        self.tombstones = tombstones
        create_tables(path, _SCHEMA)

    def enqueue(self, payloads: Sequence[Mapping[str, object]], *, now_ms: int) -> int:
        """Queue the payloads, but none about a user erased since it fired (``user_id`` tombstoned at or
        after ``at_ms``; checked in the insert's transaction). Returns rows queued."""
        with connect(self.path) as db:
            with transaction(db):
                erased = (
                    self.tombstones.erased_at([str(p.get("user_id", "")) for p in payloads], db=db, now_ms=now_ms)
                    if self.tombstones is not None
                    else {}
                )
                rows = [
                    (json.dumps(p, sort_keys=True), now_ms)
                    for p in payloads
                    if erased.get(str(p.get("user_id", "")), -1) < int(str(p.get("at_ms", now_ms)))
                ]
                db.executemany("INSERT INTO webhook_outbox (payload, next_ms) VALUES (?, ?)", rows)
        return len(rows)

    def forget(self, actors: Sequence[str]) -> None:
        """Erasure: every queued or delivered webhook about these users (their ids are in the payloads)."""
        with connect(self.path) as db:
            db.executemany(
                "DELETE FROM webhook_outbox WHERE json_extract(payload, '$.user_id') = ?", [(a,) for a in actors]
            )

    def claim_due(self, *, now_ms: int, lease_ms: int, limit: int = 50) -> list[OutboxRow]:
        """Rows due now, leased to this caller (their ``next_ms`` moves ``lease_ms`` ahead, so another
        worker does not send them at the same time)."""
        with connect(self.path) as db:
            with transaction(db):
                rows = db.execute(
                    "SELECT id, payload, attempts, delivered_ms, dead, last_error FROM webhook_outbox "
                    "WHERE delivered_ms IS NULL AND dead = 0 AND next_ms <= ? ORDER BY id LIMIT ?",
                    (now_ms, limit),
                ).fetchall()
                db.executemany(
                    "UPDATE webhook_outbox SET next_ms = ? WHERE id = ?", [(now_ms + lease_ms, r[0]) for r in rows]
                )
        return [OutboxRow(i, p, a, d, bool(dead), e) for i, p, a, d, dead, e in rows]

    def delivered(self, row_id: int, *, now_ms: int) -> None:
        with connect(self.path) as db:
            db.execute(
                "UPDATE webhook_outbox SET delivered_ms = ?, attempts = attempts + 1 WHERE id = ?", (now_ms, row_id)
            )

    def failed(self, row_id: int, *, error: str, next_ms: int, dead: bool) -> None:
        with connect(self.path) as db:
            db.execute(
                "UPDATE webhook_outbox SET attempts = attempts + 1, next_ms = ?, dead = ?, last_error = ? WHERE id = ?",
                (next_ms, int(dead), error[:500], row_id),
            )

    def rows(self) -> list[OutboxRow]:
        with connect(self.path) as db:
            found = db.execute(
                "SELECT id, payload, attempts, delivered_ms, dead, last_error FROM webhook_outbox ORDER BY id"
            ).fetchall()
        return [OutboxRow(i, p, a, d, bool(dead), e) for i, p, a, d, dead, e in found]


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    secret: bytes
    max_attempts: int = 8
    retry_s: float = 1.0
    retry_max_s: float = 300.0
    timeout_s: float = 5.0


def deliver_due(outbox: Outbox, target: WebhookTarget, client: httpx.Client, *, now_ms: int) -> int:
    """Send every due row once; returns how many were delivered (2xx). Failures back off exponentially
    (``retry_s * 2^attempts``, capped) and are given up after ``max_attempts`` (kept, marked dead)."""
    sent = 0
    for row in outbox.claim_due(now_ms=now_ms, lease_ms=int(target.timeout_s * 2000)):
        body = row.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "X-Graphrec-Delivery": str(row.id),
            "X-Graphrec-Signature": sign(target.secret, body, delivery_id=str(row.id), at_s=now_ms // 1000),
            "User-Agent": "graphrec-webhooks",
        }
        try:
            response = client.post(target.url, content=body, headers=headers, timeout=target.timeout_s)
            error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            outbox.delivered(row.id, now_ms=now_ms)
            sent += 1
            continue
        attempts = row.attempts + 1
        delay_s = min(target.retry_s * 2 ** (attempts - 1), target.retry_max_s)
        dead = attempts >= target.max_attempts
        (logger.error if dead else logger.warning)(
            "webhook %d to %s failed (attempt %d): %s", row.id, target.url, attempts, error
        )
        outbox.failed(row.id, error=error, next_ms=now_ms + int(delay_s * 1000), dead=dead)
    return sent


class TriggerWorker:
    """Background thread: profiles of freshly active users -> rules -> outbox -> deliveries."""

    def __init__(
        self,
        *,
        log: EventLog,
        rules: Sequence[TriggerRule],
        target: WebhookTarget,
        categories: Callable[[], Mapping[str, Sequence[str]]],
        window_days: int = 30,
        tick_s: float = 0.25,
        clock: Callable[[], float] = time.time,
        tombstones: Tombstones | None = None,
        marks_per_tick: int = 500,
    ) -> None:
        self.log = log
        self.rules = list(rules)
        self.target = target
        self.categories = categories
        self.window_days = window_days
        self.tick_s = tick_s
        self.clock = clock
        self.book = TriggerBook(log.path, tombstones=tombstones)
        self.outbox = Outbox(log.path, tombstones=tombstones)
        self.marks = TriggerMarks(log.path)  # users marked by `graphrec consume` (stream mode)
        self.marks_per_tick = marks_per_tick
        self._dirty: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def mark(self, events: Sequence[LoggedEvent]) -> None:
        """Called by the pipeline after it logged these events (cheap: no I/O here)."""
        with self._lock:
            self._dirty.update(e.actor for e in events)
        self._wake.set()

    def evaluate_dirty(self) -> list[Firing]:
        """Evaluate the rules of the users marked since the last tick: in memory by this process's pipeline,
        and in the file by ``graphrec consume`` (those marks are cleared once evaluated, so a tick that fails
        leaves them for the next)."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        marks = self.marks.pending(limit=self.marks_per_tick)
        actors = sorted(dirty | {actor for actor, _ in marks})
        now_ms = int(self.clock() * 1000)
        fired: list[Firing] = []
        if not actors:
            return fired
        cols = self.log.columns(since_ms=now_ms - self.window_days * DAY_MS, actors=actors)
        categories = self.categories()
        for actor in actors:
            profile = build_profile(
                actor, cols, now_ms=now_ms, window_days=self.window_days, item_categories=categories
            )
            fired.extend(self.book.evaluate(profile, self.rules, now_ms=now_ms))
        if fired:
            self.outbox.enqueue([f.payload() for f in fired], now_ms=now_ms)
        self.marks.clear(marks)
        return fired

    def run_once(self, client: httpx.Client) -> None:
        self.evaluate_dirty()
        deliver_due(self.outbox, self.target, client, now_ms=int(self.clock() * 1000))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="graphrec-triggers", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        with httpx.Client() as client:
            while not self._stop.is_set():
                try:
                    self.run_once(client)
                except Exception:  # a bad tick must not end the worker; the next one retries
                    logger.exception("trigger worker tick failed")
                self._wake.wait(self.tick_s)
                self._wake.clear()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
