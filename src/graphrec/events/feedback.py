"""The feedback loop's records: what was recommended, what was shown, and which events it led to.

Why: without them nobody can tell whether a model version serves users better than another. Every
recommendation response gets a ``recommendation_id`` and is recorded here with its model version,
experiment arm, segment and each item's source; the client reports which of its items were actually
shown (impressions); a later click, add-to-cart or purchase of a shown item is *attributed* to that
list: to the one named in the event's ``context.recommendation_id``, else to the latest list that
showed the item to the same actor within ``window_ms`` (24 h by default). That is the one attribution
rule; a custom event that names an item is attributed by it too. An outcome keeps what revenue needs
(a purchase's quantity, price per unit and currency) and a custom event's name, so counts per (model
version, arm, source, segment), revenue per currency included, are plain group-bys
(:meth:`FeedbackLog.counts`). An outcome is keyed by (actor, event id) like the event, so a retried or
re-logged purchase is never counted, nor its revenue summed, twice.

Stored in the event log's SQLite file. Served lists are on the read path, so a request only queues
its list in memory (:meth:`FeedbackLog.queue_served`, no I/O, no thread hop); the API writes the
queue out in one transaction every ``GRAPHREC_SERVED_FLUSH_S`` (0.5 s) and at shutdown, with
``synchronous=NORMAL`` (WAL: a crash may lose the last moments of them, never corrupt the file)
because they are analytics, not acknowledged data. Every read of served lists (an impression's
check, the reports, erasure) writes the queue out first, so each sees exactly what was served.
Impressions and outcomes are fsynced like the log.

Outcomes are attributed by whoever applies the events (:meth:`FeedbackLog.attribute_logged`, a listener
of the ingest pipeline): the API on the direct path, ``graphrec consume`` in stream mode
(``GRAPHREC_EVENT_STREAM``). In stream mode the consumers must therefore open the API's file
(``GRAPHREC_EVENT_LOG`` on storage both see: one host, or a volume they share), where the API records the
served lists and impressions that attribution looks up.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphrec.clock import DAY_MS
from graphrec.event_types import CUSTOM_TYPE
from graphrec.events.log import COUNTED, LoggedEvent, add_columns, connect, create_tables, transaction
from graphrec.events.tombstones import Tombstones

ATTRIBUTED_TYPES = ("click", "add_to_cart", "purchase", CUSTOM_TYPE)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS served (
    rec_id        TEXT    PRIMARY KEY,
    actor         TEXT    NOT NULL,
    endpoint      TEXT    NOT NULL,
    model_version TEXT,
    experiment    TEXT,
    arm           TEXT,
    segment       TEXT,
    items         TEXT    NOT NULL,   -- JSON [[item_id, source], ...] in ranked order
    created_ms    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS served_by_experiment ON served (experiment, arm);
CREATE TABLE IF NOT EXISTS impressions (
    rec_id   TEXT    NOT NULL,
    item_id  TEXT    NOT NULL,
    actor    TEXT    NOT NULL,
    position INTEGER NOT NULL,
    source   TEXT,
    ts       INTEGER NOT NULL,
    PRIMARY KEY (rec_id, item_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS impressions_by_actor_item ON impressions (actor, item_id, ts);
CREATE TABLE IF NOT EXISTS outcomes (
    actor    TEXT    NOT NULL,
    event_id TEXT    NOT NULL,
    rec_id   TEXT    NOT NULL,
    item_id  TEXT    NOT NULL,
    type     TEXT    NOT NULL,
    ts       INTEGER NOT NULL,
    name     TEXT,      -- a custom event's name
    quantity INTEGER,   -- a purchase's units (NULL: 1)
    price    REAL,      -- a purchase's price per unit, in currency
    currency TEXT,      -- ISO 4217
    PRIMARY KEY (actor, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outcomes_by_rec ON outcomes (rec_id);
"""
# added to the outcomes of files an older release created (its CREATE TABLE above lacks them)
_OUTCOME_DETAILS = (("name", "TEXT"), ("quantity", "INTEGER"), ("price", "REAL"), ("currency", "TEXT"))
_OUTCOME_COLUMNS = "actor, event_id, rec_id, item_id, type, ts, name, quantity, price, currency"


class UnknownRecommendation(ValueError):
    """An impression names a recommendation id that was never served (or not to this actor)."""


@dataclass(frozen=True, slots=True)
class ServedList:
    rec_id: str
    actor: str
    endpoint: str
    model_version: str | None
    experiment: str | None
    arm: str | None
    segment: str | None
    items: list[tuple[str, str]]  # (item_id, source)
    created_ms: int


@dataclass(frozen=True, slots=True)
class ArmCounts:
    """One (experiment, arm)'s totals: lists served, lists with an impression, impressions, and lists
    that led to a click / a purchase (the units of the online metrics)."""

    experiment: str | None
    arm: str | None
    served: int
    shown: int
    impressions: int
    clicked_lists: int
    converted_lists: int
    clicks: int
    purchases: int


@dataclass(frozen=True, slots=True)
class Revenue:
    """Attributed purchases in one currency that gave a price: how many, their units, and the sum of
    price x quantity (rounded to millionths of the currency unit)."""

    currency: str
    purchases: int
    units: int
    amount: float


@dataclass(slots=True)
class FeedbackRow:
    """One row of the feedback table: a (model version, arm, source, segment)'s impressions and what they
    led to (attributed outcomes)."""

    model_version: str | None
    arm: str | None
    source: str | None
    segment: str | None
    impressions: int
    clicks: int
    purchases: int
    units: int
    revenue: list[Revenue] = field(default_factory=list)  # by currency
    custom: dict[str, int] = field(default_factory=dict)  # custom events by name


class FeedbackLog:
    """Served lists, impressions and attributed outcomes in the SQLite file at ``path``."""

    def __init__(self, path: Path, *, window_ms: int = DAY_MS, tombstones: Tombstones | None = None) -> None:
        self.path = path
        self.window_ms = window_ms
        self.tombstones = tombstones
        create_tables(path, _SCHEMA)
        add_columns(path, "outcomes", _OUTCOME_DETAILS)
        self._queued: list[ServedList] = []
        self._queued_returned: set[str] = set()
        self._queue_lock = threading.Lock()  # held for an append or a swap: never across I/O
        self._flush_lock = threading.Lock()  # held while a queue is written: a read waits for it

    # -- writes ------------------------------------------------------------------------------------
    def queue_served(self, served: ServedList, *, returned: bool = False) -> None:
        """Queue a served list for the next :meth:`flush_served` (the request path's cheap half).
        ``returned``: the actor has history again, so an erasure before this list does not drop it
        (see :meth:`record_served`)."""
        with self._queue_lock:
            self._queued.append(served)
            if returned:
                self._queued_returned.add(served.actor)

    def flush_served(self) -> int:
        """Write the queued lists in one transaction; returns lists recorded. A caller that finds a
        flush under way waits for it, so on return everything queued before the call is in the file."""
        with self._flush_lock:
            with self._queue_lock:
                lists, returned = self._queued, self._queued_returned
                if not lists:
                    return 0
                self._queued, self._queued_returned = [], set()
            try:
                return self.record_served(lists, returned=returned)
            except BaseException:
                with self._queue_lock:  # not lost: back in front of what came since, for the next flush
                    self._queued[:0] = lists
                    self._queued_returned |= returned
                raise

    def record_served(self, lists: Sequence[ServedList], *, returned: Collection[str] = ()) -> int:
        """Record the lists, but none for an erased actor (:mod:`graphrec.events.tombstones`) unless it was
        served after the erasure to an actor in ``returned`` (who has history again: a new sign-up).
        The check runs in the insert's transaction, so an erasure cannot land between the two. Returns
        lists recorded."""
        with connect(self.path, durable=False) as db:
            with transaction(db):
                erased = (
                    self.tombstones.erased_at([s.actor for s in lists], db=db) if self.tombstones is not None else {}
                )
                rows = [
                    (
                        s.rec_id,
                        s.actor,
                        s.endpoint,
                        s.model_version,
                        s.experiment,
                        s.arm,
                        s.segment,
                        json.dumps(s.items),
                        s.created_ms,
                    )
                    for s in lists
                    if s.actor not in erased or (s.actor in returned and s.created_ms > erased[s.actor])
                ]
                before = db.total_changes
                db.executemany("INSERT OR IGNORE INTO served VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                added = db.total_changes - before
        return added

    def forget(self, actors: Sequence[str]) -> None:
        """Erasure: the actors' served lists (queued ones too), impressions and attributed outcomes."""
        self.flush_served()
        keys = [(a,) for a in actors]
        with connect(self.path) as db:
            with transaction(db):
                for table in ("served", "impressions", "outcomes"):
                    db.executemany(f"DELETE FROM {table} WHERE actor = ?", keys)

    def record_impressions(self, *, rec_id: str, actor: str, item_ids: Sequence[str], ts: int) -> int:
        """The items of list ``rec_id`` the client showed to ``actor``; items not in the list are refused
        (:class:`UnknownRecommendation`), repeats ignored. Returns impressions added."""
        self.flush_served()  # the list may have been served a moment ago
        with connect(self.path) as db:
            row = db.execute("SELECT items FROM served WHERE rec_id = ? AND actor = ?", (rec_id, actor)).fetchone()
            if row is None:
                raise UnknownRecommendation(f"recommendation '{rec_id}' was not served to this visitor")
            ranked = {item: (pos, source) for pos, (item, source) in enumerate(json.loads(row[0]))}
            missing = [i for i in item_ids if i not in ranked]
            if missing:
                raise UnknownRecommendation(f"items not in recommendation '{rec_id}': {', '.join(missing[:10])}")
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO impressions VALUES (?, ?, ?, ?, ?, ?)",
                [(rec_id, i, actor, ranked[i][0], ranked[i][1], ts) for i in dict.fromkeys(item_ids)],
            )
            return db.total_changes - before

    def attribute(self, events: Sequence[LoggedEvent]) -> int:
        """Attribute click/cart/purchase events, and custom events naming an item, to the list that showed
        their item (see module docstring): the event's ``recommendation_id`` when it names one, else the
        latest impression of the item to the actor within the window. Idempotent per (actor, event id).
        Returns outcomes added."""
        rows = []
        with connect(self.path) as db:
            for e in events:
                if e.type not in ATTRIBUTED_TYPES or not e.item_id:
                    continue
                named = e.recommendation_id
                if named is not None:
                    hit = db.execute(
                        "SELECT rec_id FROM impressions WHERE rec_id = ? AND item_id = ? AND actor = ?",
                        (named, e.item_id, e.actor),
                    ).fetchone()
                else:
                    hit = db.execute(
                        "SELECT rec_id FROM impressions WHERE actor = ? AND item_id = ? AND ts <= ? "
                        "AND ts >= ? ORDER BY ts DESC LIMIT 1",
                        (e.actor, e.item_id, e.ts, e.ts - self.window_ms),
                    ).fetchone()
                if hit is not None:
                    p, c = e.purchase, e.custom
                    rows.append(
                        (e.actor, e.event_id, hit[0], e.item_id, e.type, e.ts)
                        + (c.name if c is not None else None,)
                        + ((p.quantity, p.price, p.currency) if p is not None else (None, None, None))
                    )
            if not rows:
                return 0
            before = db.total_changes
            db.executemany(f"INSERT OR IGNORE INTO outcomes ({_OUTCOME_COLUMNS}) VALUES ({', '.join('?' * 10)})", rows)
            return db.total_changes - before

    def attribute_logged(self, events: Sequence[LoggedEvent]) -> int:
        """The ingest pipeline's listener, in the API and in ``graphrec consume`` alike: attribute the counted
        events of a batch just logged. Bot-flagged and burst-collapsed events are behaviour, but not outcomes
        a list earned. A redelivered batch comes here again (logged as duplicates) and adds nothing
        (:meth:`attribute` is idempotent per actor and event id). Returns outcomes added."""
        return self.attribute([e for e in events if e.flag == COUNTED])

    # -- reads -------------------------------------------------------------------------------------
    def served_list(self, rec_id: str) -> ServedList | None:
        self.flush_served()
        with connect(self.path) as db:
            r = db.execute("SELECT * FROM served WHERE rec_id = ?", (rec_id,)).fetchone()
        if r is None:
            return None
        return ServedList(r[0], r[1], r[2], r[3], r[4], r[5], r[6], [tuple(x) for x in json.loads(r[7])], r[8])

    def arm_counts(self, experiment: str | None) -> list[ArmCounts]:
        """Totals per arm of ``experiment`` (None: lists served outside any experiment)."""
        self.flush_served()
        query = """
            SELECT s.experiment, s.arm, count(*) AS served,
                   sum(CASE WHEN i.n > 0 THEN 1 ELSE 0 END), coalesce(sum(i.n), 0),
                   sum(CASE WHEN o.clicks > 0 THEN 1 ELSE 0 END), sum(CASE WHEN o.purchases > 0 THEN 1 ELSE 0 END),
                   coalesce(sum(o.clicks), 0), coalesce(sum(o.purchases), 0)
            FROM served s
            LEFT JOIN (SELECT rec_id, count(*) AS n FROM impressions GROUP BY rec_id) i ON i.rec_id = s.rec_id
            LEFT JOIN (SELECT rec_id, sum(type = 'click') AS clicks, sum(type = 'purchase') AS purchases
                       FROM outcomes GROUP BY rec_id) o ON o.rec_id = s.rec_id
            WHERE s.experiment IS ? GROUP BY s.experiment, s.arm ORDER BY s.arm"""
        with connect(self.path) as db:
            rows = db.execute(query, (experiment,)).fetchall()
        return [ArmCounts(*r) for r in rows]

    def ctr_series(self, experiment: str, *, bucket_ms: int) -> list[dict[str, object]]:
        """Per arm and time bucket (by when the list was served): shown lists and those that led to a click."""
        self.flush_served()
        query = """
            SELECT s.arm, s.created_ms / ? AS b, count(*),
                   sum(CASE WHEN o.clicks > 0 THEN 1 ELSE 0 END)
            FROM served s
            JOIN (SELECT DISTINCT rec_id FROM impressions) i ON i.rec_id = s.rec_id
            LEFT JOIN (SELECT rec_id, sum(type = 'click') AS clicks FROM outcomes GROUP BY rec_id) o
                   ON o.rec_id = s.rec_id
            WHERE s.experiment = ? GROUP BY s.arm, b ORDER BY s.arm, b"""
        with connect(self.path) as db:
            rows = db.execute(query, (bucket_ms, experiment)).fetchall()
        return [
            {
                "arm": arm,
                "t": b * bucket_ms,
                "shown": shown,
                "clicked": clicked,
                "ctr": clicked / shown if shown else 0.0,
            }
            for arm, b, shown, clicked in rows
        ]

    def counts(self) -> list[FeedbackRow]:
        """Per (model version, arm, source, segment): impressions, attributed clicks, purchases and units
        (a purchase without a quantity is one), revenue per currency (price x quantity of the purchases
        that gave a price) and custom events per name: the feedback table."""
        self.flush_served()
        query = """
            SELECT s.model_version, s.arm, i.source, s.segment, count(*) AS impressions,
                   coalesce(sum(o.clicks), 0), coalesce(sum(o.purchases), 0), coalesce(sum(o.units), 0)
            FROM impressions i JOIN served s ON s.rec_id = i.rec_id
            LEFT JOIN (SELECT rec_id, item_id, sum(type = 'click') AS clicks, sum(type = 'purchase') AS purchases,
                              sum(CASE WHEN type = 'purchase' THEN coalesce(quantity, 1) ELSE 0 END) AS units
                       FROM outcomes GROUP BY rec_id, item_id) o ON o.rec_id = i.rec_id AND o.item_id = i.item_id
            GROUP BY s.model_version, s.arm, i.source, s.segment
            ORDER BY s.model_version, s.arm, i.source, s.segment"""
        # every outcome has its impression (attribute() requires one), so the same join places it in a row
        per_outcome = """
            SELECT s.model_version, s.arm, i.source, s.segment, {what}
            FROM outcomes o JOIN impressions i ON i.rec_id = o.rec_id AND i.item_id = o.item_id
            JOIN served s ON s.rec_id = o.rec_id
            WHERE {where} GROUP BY s.model_version, s.arm, i.source, s.segment, {key} ORDER BY {key}"""
        revenue_query = per_outcome.format(
            what="o.currency, count(*), sum(coalesce(o.quantity, 1)), total(o.price * coalesce(o.quantity, 1))",
            where="o.type = 'purchase' AND o.price IS NOT NULL",
            key="o.currency",
        )
        custom_query = per_outcome.format(what="o.name, count(*)", where="o.type = 'custom'", key="o.name")
        with connect(self.path) as db:
            rows = db.execute(query).fetchall()
            revenue = db.execute(revenue_query).fetchall()
            custom = db.execute(custom_query).fetchall()
        by_row = {(v, a, src, seg): FeedbackRow(v, a, src, seg, n, c, p, u) for v, a, src, seg, n, c, p, u in rows}
        for v, a, src, seg, currency, purchases, units, amount in revenue:
            by_row[(v, a, src, seg)].revenue.append(Revenue(currency, purchases, units, round(amount, 6)))
        for v, a, src, seg, name, n in custom:
            by_row[(v, a, src, seg)].custom[name] = n
        return list(by_row.values())
