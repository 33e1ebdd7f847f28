"""The event log: every accepted behaviour event with its context, kept for profiles, sessions and attribution.

Why a log beside the graph: edges keep aggregates only (counts, value sums, first/last time), which
is what ranking needs, but profiles, browsing sequences and attribution need the events themselves
with their session, device and page section. The log is a SQLite table (WAL, ``synchronous=FULL``:
a committed append survives a crash, like the store's fsynced writes), one row per ``(actor,
event_id)``, so the exactly-once rule of the edges holds here too: a retried append is ignored.

Ordering with the store: the pipeline appends a batch after its store write committed and before it
acknowledges, and it appends the events the store reported as already seen as well. So if a process
dies between the two writes, the client (never acknowledged) retries, the store answers "duplicate"
and the log gets the rows then; an acknowledged event is in both.

Two more tables hold what some events carry beyond the edge's fields, written in the same transaction
as their event's row and keyed the same way, ``(actor, event_id)``: ``purchases`` (a purchase's price per
unit, currency, quantity and order id, when it gave any: revenue per list, see
:mod:`graphrec.events.feedback`) and ``custom_events`` (events of the shop's own name: the name, the item
if any, the properties as JSON, the context; never in ``events``, whose ``type`` codes stay the closed
set of edge types that profiles and segments read).

Rows are only ever appended, except for the two identity operations the product promises: erasure
(a user's rows are deleted) and merge (an anonymous visitor's rows become the user's; the file
remembers the merge in ``merged_actors``, so erasing the user finds the visitor ids it must erase too).

Erasure leaves no bytes behind: every connection runs with ``secure_delete`` (deleted rows are
overwritten with zeros, in the log and in every other table of the file), and :func:`checkpoint`
copies the WAL into the file and truncates it, so the old page images go too.

Where: ``Settings.event_log_path`` (default ``DATA_DIR/events.sqlite``). SQLite allows several
processes (API workers, the CLI) on one file; several API *hosts* need the file on shared storage or
one log each (profiles then see that host's events; see the README).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from graphrec import clock
from graphrec.event_types import CUSTOM_TYPE, EVENT_TYPES
from graphrec.events.details import CustomDetails, PurchaseDetails

# flags a row may carry: how the pipeline treated the event (all of them are real behaviour)
COUNTED, COLLAPSED, BOT = 0, 1, 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    actor       TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    item_id     TEXT    NOT NULL,
    type        INTEGER NOT NULL,   -- index into graphrec.event_types.EVENT_TYPES
    ts          INTEGER NOT NULL,   -- event time, UTC epoch ms
    value       REAL,
    session_id  TEXT,
    device      TEXT,
    section     TEXT,
    flag        INTEGER NOT NULL DEFAULT 0,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (actor, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_actor_time ON events (actor, ts);
CREATE INDEX IF NOT EXISTS events_by_time ON events (ts);
CREATE TABLE IF NOT EXISTS purchases (
    actor    TEXT    NOT NULL,
    event_id TEXT    NOT NULL,   -- the purchase's row in events
    price    REAL,               -- per unit, in currency
    currency TEXT,               -- ISO 4217
    quantity INTEGER NOT NULL,
    order_id TEXT,
    PRIMARY KEY (actor, event_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS custom_events (
    actor       TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    item_id     TEXT,
    ts          INTEGER NOT NULL,
    properties  TEXT,               -- JSON object, sorted keys
    session_id  TEXT,
    device      TEXT,
    section     TEXT,
    flag        INTEGER NOT NULL DEFAULT 0,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (actor, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS custom_events_by_time ON custom_events (ts);
CREATE TABLE IF NOT EXISTS merged_actors (
    actor TEXT NOT NULL,   -- the user
    alias TEXT NOT NULL,   -- an anonymous visitor's node id merged into them
    PRIMARY KEY (actor, alias)
) WITHOUT ROWID;
"""
_COLUMNS = (
    "actor",
    "event_id",
    "item_id",
    "type",
    "ts",
    "value",
    "session_id",
    "device",
    "section",
    "flag",
    "received_ms",
)
_INSERT = f"INSERT OR IGNORE INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_INSERT_PURCHASE = "INSERT OR IGNORE INTO purchases VALUES (?, ?, ?, ?, ?, ?)"
_INSERT_CUSTOM = "INSERT OR IGNORE INTO custom_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_DETAIL_TABLES = ("purchases", "custom_events")  # the log's own per-event tables beside ``events``
_TYPE_CODE = {name: code for code, name in enumerate(EVENT_TYPES)}


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One row of the log (``type`` by name; ``custom``: a row of ``custom_events``)."""

    actor: str
    event_id: str
    item_id: str  # "" only for a custom event that names no item
    type: str
    ts: int
    value: float | None = None
    session_id: str | None = None
    device: str | None = None
    section: str | None = None
    flag: int = COUNTED
    recommendation_id: str | None = None  # for attribution by the pipeline's listeners; not a log column
    purchase: PurchaseDetails | None = None  # a row of ``purchases`` beside the event's
    custom: CustomDetails | None = None  # set exactly when type is "custom"


@dataclass(frozen=True, slots=True)
class EventColumns:
    """Many rows as columns (what profiles and segmentation compute on, vectorised).

    ``actor`` and ``item`` are codes into ``actors`` / ``items``; ``type`` indexes ``EVENT_TYPES``;
    ``session`` codes into ``sessions`` (-1: no session id); ``device`` codes into ``devices`` (-1: none).
    """

    actors: list[str]
    items: list[str]
    sessions: list[str]
    devices: list[str]
    actor: np.ndarray
    item: np.ndarray
    type: np.ndarray
    ts: np.ndarray
    value: np.ndarray  # NaN where the event has no value
    session: np.ndarray
    device: np.ndarray
    flag: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)


class EventLogUnavailable(Exception):  # noqa: N818 - reads as what happened
    """The log could not be read or written (disk full, locked past the busy timeout, unreadable file):
    a retry later may succeed, and a batch whose append failed was not acknowledged."""


@contextmanager
def connect(path: Path, *, durable: bool = True, busy_timeout_s: float = 10.0) -> Iterator[sqlite3.Connection]:
    """A short-lived connection to the log's SQLite file, which the feedback records, trigger states and
    webhook outbox share; ``durable``: a commit is fsynced (``synchronous=FULL``; else ``NORMAL``, which
    in WAL mode may lose the last commits on a crash but never corrupts the file). ``secure_delete`` is on
    for every connection: a deleted row's bytes are zeroed, not left in a free page (erasure). Any SQLite
    failure is :class:`EventLogUnavailable`."""
    try:
        with closing(sqlite3.connect(path, timeout=busy_timeout_s, isolation_level=None)) as db:
            db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            db.execute("PRAGMA secure_delete=ON")
            yield db
    except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
        raise EventLogUnavailable(f"event log {path}: {exc}") from exc


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (the write lock taken at once, so a read-then-write cannot be overtaken), then
    ``COMMIT``, or ``ROLLBACK`` when the block raises: the one home of that block for every owner of
    rows in the log's file."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def create_tables(path: Path, schema: str) -> None:
    """Create the file (WAL mode) and ``schema``'s tables if they are missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(schema)


def add_columns(path: Path, table: str, columns: Sequence[tuple[str, str]]) -> None:
    """Give ``table`` (created by an older release) the ``(name, SQL type)`` columns it lacks, in one write
    transaction, so processes starting together add each once. Names come from code, never from input."""
    with connect(path) as db:
        with transaction(db):
            have = {c[1] for c in db.execute(f"PRAGMA table_info({table})")}
            for name, sql_type in columns:
                if name not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}")


def checkpoint(path: Path, *, timeout_s: float = 10.0) -> bool:
    """Copy the WAL into the file and truncate it to zero bytes (``wal_checkpoint(TRUNCATE)``), retried
    until ``timeout_s`` while readers hold old snapshots; True when done.

    Why after an erasure: ``secure_delete`` zeroes the rows in the pages it writes, but those pages go to
    the WAL first, and the file (and older WAL frames) keep the old page images until a checkpoint."""
    deadline = time.monotonic() + timeout_s
    while True:
        with connect(path, busy_timeout_s=max(deadline - time.monotonic(), 0.0)) as db:
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if not busy:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


class EventLog:
    """The SQLite event log at ``path`` (created on first use). Safe to share between threads and processes:
    every call opens its own short-lived connection (opening is far cheaper than the fsync it waits for)."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        create_tables(path, _SCHEMA)

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return connect(self.path, busy_timeout_s=self.busy_timeout_s)

    # -- writes ------------------------------------------------------------------------------------
    def append(self, events: Sequence[LoggedEvent], *, received_ms: int | None = None) -> int:
        """Append in one transaction (all or nothing); rows already logged are ignored. Returns rows added."""
        if not events:
            return 0
        now = clock.now_ms() if received_ms is None else received_ms
        rows = [
            (
                e.actor,
                e.event_id,
                e.item_id,
                _TYPE_CODE[e.type],
                e.ts,
                e.value,
                e.session_id,
                e.device,
                e.section,
                e.flag,
                now,
            )
            for e in events
            if e.type != CUSTOM_TYPE
        ]
        purchases = [
            (e.actor, e.event_id, p.price, p.currency, p.quantity, p.order_id)
            for e in events
            if (p := e.purchase) is not None
        ]
        custom = [
            (
                e.actor,
                e.event_id,
                c.name,
                e.item_id or None,
                e.ts,
                c.properties,
                e.session_id,
                e.device,
                e.section,
                e.flag,
                now,
            )
            for e in events
            if (c := e.custom) is not None
        ]
        return self._insert(rows, purchases=purchases, custom=custom)

    def append_columns(
        self,
        actor: Sequence[str],
        event_id: Sequence[str],
        item_id: Sequence[str],
        type_code: np.ndarray,
        ts: np.ndarray,
        value: np.ndarray,
        *,
        session_id: Sequence[str | None] | None = None,
        device: Sequence[str | None] | None = None,
        section: Sequence[str | None] | None = None,
    ) -> int:
        """Bulk append for importers (columns of equal length; NaN values become NULL); one transaction."""
        n = len(ts)
        none: list[str | None] = [None] * n
        now = clock.now_ms()
        vals: list[float | None] = [None if v != v else float(v) for v in np.asarray(value, dtype=np.float64)]
        rows = zip(
            actor,
            event_id,
            item_id,
            np.asarray(type_code, dtype=np.int64).tolist(),
            np.asarray(ts, dtype=np.int64).tolist(),
            vals,
            session_id or none,
            device or none,
            section or none,
            [COUNTED] * n,
            [now] * n,
            strict=True,
        )
        return self._insert(rows)

    def _insert(
        self,
        rows: Iterable[tuple[Any, ...]],
        *,
        purchases: Sequence[tuple[Any, ...]] = (),
        custom: Sequence[tuple[Any, ...]] = (),
    ) -> int:
        """One transaction: the events' rows, their purchases' details and the custom events; returns the
        events and custom events added (a detail row is part of its event)."""
        with self._connect() as db:
            with transaction(db):
                before = db.total_changes
                db.executemany(_INSERT, rows)
                if custom:
                    db.executemany(_INSERT_CUSTOM, custom)
                added = db.total_changes - before
                if purchases:
                    db.executemany(_INSERT_PURCHASE, purchases)
        return added

    def merge(self, *, source: str, target: str) -> int:
        """``source``'s rows become ``target``'s (one transaction; an event both logged keeps target's row),
        and so do their rows in the file's other per-actor tables (purchase details, custom events, served
        lists, impressions, outcomes, trigger states); the merge is remembered (:meth:`aliases`). Returns log
        rows moved."""
        with self._connect() as db:
            with transaction(db):
                moved = db.execute(
                    f"INSERT OR IGNORE INTO events ({', '.join(_COLUMNS)}) SELECT ?, {', '.join(_COLUMNS[1:])} "
                    "FROM events WHERE actor = ?",
                    (target, source),
                ).rowcount
                db.execute("DELETE FROM events WHERE actor = ?", (source,))
                for table in _actor_tables(db):
                    db.execute(f"UPDATE OR IGNORE {table} SET actor = ? WHERE actor = ?", (target, source))
                    db.execute(f"DELETE FROM {table} WHERE actor = ?", (source,))
                db.execute("INSERT OR IGNORE INTO merged_actors VALUES (?, ?)", (target, source))
        return moved

    def aliases(self, actor: str) -> list[str]:
        """The anonymous visitor node ids merged into ``actor`` (what erasing ``actor`` must erase too:
        a retried batch of a visitor's may have logged rows under its own id after the merge)."""
        with self._connect() as db:
            return [
                r[0] for r in db.execute("SELECT alias FROM merged_actors WHERE actor = ? ORDER BY alias", (actor,))
            ]

    def forget(self, actors: Sequence[str]) -> int:
        """Erasure: delete these actors' log rows (events, purchase details, custom events) and merge
        records (the file's other tables are erased by their owners: feedback, triggers, webhooks);
        returns rows deleted."""
        keys = [(a,) for a in actors]
        with self._connect() as db:
            with transaction(db):
                before = db.total_changes
                for table in ("events", *_DETAIL_TABLES):  # names from this module, never input
                    db.executemany(f"DELETE FROM {table} WHERE actor = ?", keys)
                deleted = db.total_changes - before
                db.executemany("DELETE FROM merged_actors WHERE actor = ? OR alias = ?", [(a, a) for a in actors])
        return deleted

    # -- reads -------------------------------------------------------------------------------------
    def user_events(self, actor: str, *, since_ms: int = 0, limit: int = 100_000) -> list[LoggedEvent]:
        """One actor's events from ``since_ms`` on, oldest first (at most ``limit``, the newest kept)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT actor, event_id, item_id, type, ts, value, session_id, device, section, flag FROM "
                "(SELECT * FROM events WHERE actor = ? AND ts >= ? ORDER BY ts DESC LIMIT ?) ORDER BY ts, event_id",
                (actor, since_ms, limit),
            ).fetchall()
        return [LoggedEvent(a, e, i, EVENT_TYPES[t], ts, v, s, d, sec, f) for a, e, i, t, ts, v, s, d, sec, f in rows]

    def newest_ms(self) -> int | None:
        """The time of the newest event logged (None for an empty log): "now" for a dataset from the past."""
        with self._connect() as db:
            value = db.execute("SELECT max(ts) FROM events").fetchone()[0]
        return None if value is None else int(value)

    def rate(self, *, since_ms: int, bucket_ms: int) -> list[tuple[int, int]]:
        """Events per time bucket from ``since_ms`` (bucket start ms, count), empty buckets included."""
        with self._connect() as db:
            found = dict(
                db.execute(
                    "SELECT ts / ? AS b, count(*) FROM events WHERE ts >= ? GROUP BY b", (bucket_ms, since_ms)
                ).fetchall()
            )
        first, last = since_ms // bucket_ms, max([since_ms // bucket_ms, *found])
        return [(b * bucket_ms, int(found.get(b, 0))) for b in range(first, last + 1)]

    def custom_counts(self, *, since_ms: int = 0) -> list[tuple[str, int, int]]:
        """Custom events from ``since_ms`` on, per name: ``(name, events, distinct actors)``, most frequent
        first (bot-flagged ones left out, as the dashboard's other panels leave them out)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT name, count(*) AS n, count(DISTINCT actor) FROM custom_events WHERE ts >= ? AND flag != ? "
                "GROUP BY name ORDER BY n DESC, name",
                (since_ms, BOT),
            ).fetchall()
        return [(str(name), int(n), int(actors)) for name, n, actors in rows]

    def count(self, *, since_ms: int = 0) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT count(*) FROM events WHERE ts >= ?", (since_ms,)).fetchone()[0])

    def columns(
        self,
        *,
        since_ms: int = 0,
        until_ms: int | None = None,
        actors: Sequence[str] | None = None,
        include_flagged: bool = True,
    ) -> EventColumns:
        """Every row (or ``actors``' rows) from ``since_ms`` (to ``until_ms``, inclusive) as coded numpy columns,
        ordered by actor then time."""
        query = (
            "SELECT actor, item_id, type, ts, value, session_id, device, flag FROM events WHERE ts >= ?"
            + ("" if include_flagged else " AND flag != 2")
            + ("" if until_ms is None else " AND ts <= ?")
        )
        params: list[object] = [since_ms, *([] if until_ms is None else [until_ms])]
        if actors is not None:
            query += f" AND actor IN ({', '.join('?' * len(actors))})"
            params.extend(actors)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY actor, ts", params).fetchall()
        return to_columns(rows)


def _actor_tables(db: sqlite3.Connection) -> list[str]:
    """The file's tables other than the log's keyed by an ``actor`` column (names from the schema, never input)."""
    tables = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('events', 'merged_actors')"
        )
    ]
    return [t for t in tables if any(c[1] == "actor" for c in db.execute(f"PRAGMA table_info({t})"))]


def _codes(values: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
    """Dictionary-encode ``values`` (None -> -1)."""
    table: dict[str, int] = {}
    codes = np.fromiter(
        (-1 if v is None else table.setdefault(v, len(table)) for v in values), dtype=np.int64, count=len(values)
    )
    return list(table), codes


def to_columns(rows: Sequence[tuple[str, str, int, int, float | None, str | None, str | None, int]]) -> EventColumns:
    """Rows of ``(actor, item_id, type, ts, value, session_id, device, flag)`` as :class:`EventColumns`."""
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return EventColumns([], [], [], [], empty, empty, empty, empty, np.zeros(0), empty, empty, empty)
    actor, item, type_, ts, value, session, device, flag = zip(*rows, strict=True)
    actors, actor_codes = _codes(actor)
    items, item_codes = _codes(item)
    sessions, session_codes = _codes(session)
    devices, device_codes = _codes(device)
    return EventColumns(
        actors=actors,
        items=items,
        sessions=sessions,
        devices=devices,
        actor=actor_codes,
        item=item_codes,
        type=np.asarray(type_, dtype=np.int64),
        ts=np.asarray(ts, dtype=np.int64),
        value=np.asarray([np.nan if v is None else v for v in value], dtype=np.float64),
        session=session_codes,
        device=device_codes,
        flag=np.asarray(flag, dtype=np.int64),
    )
