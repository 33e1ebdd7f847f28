"""Erasure tombstones: a keyed hash of each erased id with the erasure time, never the id itself.

Why: erasure deletes the store's seen-event records with everything else, so without a trace a client
retrying an event sent before the erasure (a tracker's offline queue, a retried batch) would be
counted anew and recreate the user. A tombstone makes such events a no-op while retries can still
arrive: for ``Settings.event_id_retention_days``, the de-duplication window (after it, a retried
event would be counted again for any user). It holds ``HMAC-SHA256(Settings.erasure_key, id)``, so
the file does not name whom it forgot, and only a holder of the key can test an id against it.

The rule (one home: :meth:`Tombstones.erased_at` and its callers): an event of a tombstoned actor
dated at or before the erasure is dropped (reported as a duplicate: it was handled, then erased);
one dated after it is accepted, since a person may come back and sign up again under the same id.
Lists served to, and trigger states of, a tombstoned actor are not recorded unless they have new
history (see :mod:`graphrec.events.feedback`, :mod:`graphrec.behaviour.triggers`).

Stored in the event log's SQLite file, which every API worker of a host shares.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from graphrec import clock
from graphrec.clock import DAY_MS
from graphrec.config import Settings
from graphrec.events.log import connect, create_tables, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tombstones (
    key       BLOB    PRIMARY KEY,   -- HMAC-SHA256(erasure key, erased id)
    erased_ms INTEGER NOT NULL
) WITHOUT ROWID;
"""


class Tombstones:
    """The tombstones in the SQLite file at ``path``, keyed with ``key`` (``Settings.erasure_key``)."""

    def __init__(self, path: Path, *, key: bytes, retention_days: float) -> None:
        self.path = path
        self._key = key
        self.retention_ms = int(retention_days * DAY_MS)
        create_tables(path, _SCHEMA)

    @classmethod
    def beside(cls, path: Path, settings: Settings) -> Tombstones:
        """The tombstones in the event log file at ``path``, keyed and kept as ``settings`` say."""
        return cls(path, key=settings.erasure_key, retention_days=settings.event_id_retention_days)

    def digest(self, actor: str) -> bytes:
        return hmac.new(self._key, actor.encode(), hashlib.sha256).digest()

    def record(self, actors: Sequence[str], *, erased_ms: int) -> None:
        """Mark ``actors`` erased at ``erased_ms`` (a later erasure moves the time on); tombstones past the
        retention window are dropped on the way."""
        with connect(self.path) as db:
            with transaction(db):
                db.executemany(
                    "INSERT OR REPLACE INTO tombstones VALUES (?, ?)",
                    [(self.digest(a), erased_ms) for a in dict.fromkeys(actors)],
                )
                db.execute("DELETE FROM tombstones WHERE erased_ms < ?", (erased_ms - self.retention_ms,))

    def erased_at(
        self, actors: Sequence[str], *, db: sqlite3.Connection | None = None, now_ms: int | None = None
    ) -> dict[str, int]:
        """When each of ``actors`` that has a live tombstone was erased (others are absent). ``db``: read
        inside the caller's transaction on this file, so an erasure cannot slip between check and write."""
        wanted = {self.digest(a): a for a in dict.fromkeys(actors)}
        if not wanted:
            return {}
        now = clock.now_ms() if now_ms is None else now_ms
        query = (
            f"SELECT key, erased_ms FROM tombstones WHERE erased_ms >= ? AND key IN ({', '.join('?' * len(wanted))})"
        )
        params = (now - self.retention_ms, *wanted)
        if db is not None:
            rows = db.execute(query, params).fetchall()
        else:
            with connect(self.path) as own:
                rows = own.execute(query, params).fetchall()
        return {wanted[bytes(k)]: int(ms) for k, ms in rows}
