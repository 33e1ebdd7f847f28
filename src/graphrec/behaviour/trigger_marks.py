"""Users whose trigger rules are due for evaluation because another process applied their events.

Why: on the direct path the API's own pipeline tells its trigger worker which users just had events
(:meth:`graphrec.serving.webhooks.TriggerWorker.mark`, in memory). In stream mode (``GRAPHREC_EVENT_STREAM``)
``graphrec consume`` applies the events in another process, often on another container, so that in-memory
call cannot reach the API. The consumer's pipeline marks the users here instead, in the event log's file
(which the API and the consumers share: the trigger worker reads the users' events there anyway), and the
API's trigger worker picks the marks up on its next tick, evaluates the users' rules and clears the marks
it evaluated.

Exactly once, without counting: a mark says "evaluate this user again", not "an event happened". Rules are
edge-triggered on the user's profile (:class:`graphrec.behaviour.triggers.TriggerBook`), so a batch
redelivered by Kafka marks the same users again and fires nothing new. A mark is cleared only after its
evaluation, and only if no new mark came meanwhile (each mark bumps the row's ``version``), so a worker
that dies between the two leaves the mark for the next tick, and a user marked while being evaluated is
evaluated again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from graphrec.events.log import LoggedEvent, connect, create_tables, transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trigger_marks (
    actor   TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;
"""

Mark = tuple[str, int]
"""An actor and the version of its mark that was read."""


class TriggerMarks:
    """Pending trigger evaluations in the SQLite file at ``path`` (the event log's)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        create_tables(path, _SCHEMA)

    def mark(self, events: Sequence[LoggedEvent]) -> None:
        """The ingest pipeline's listener in ``graphrec consume``: the batch's actors are due (one
        transaction; fsynced like the log, so a mark is not lost with the process)."""
        actors = sorted({e.actor for e in events})
        if not actors:
            return
        with connect(self.path) as db:
            with transaction(db):
                db.executemany(
                    "INSERT INTO trigger_marks VALUES (?, 1) ON CONFLICT (actor) DO UPDATE SET version = version + 1",
                    [(a,) for a in actors],
                )

    def pending(self, *, limit: int) -> list[Mark]:
        """Up to ``limit`` marks, in actor order (a read: nothing is taken; :meth:`clear` drops them)."""
        with connect(self.path, durable=False) as db:
            rows = db.execute("SELECT actor, version FROM trigger_marks ORDER BY actor LIMIT ?", (limit,)).fetchall()
        return [(str(a), int(v)) for a, v in rows]

    def clear(self, marks: Sequence[Mark]) -> None:
        """Drop the marks that were evaluated, unless the actor was marked again since they were read."""
        if not marks:
            return
        with connect(self.path) as db:
            db.executemany("DELETE FROM trigger_marks WHERE actor = ? AND version = ?", list(marks))

    def forget(self, actors: Sequence[str]) -> None:
        """Erasure: the actors' pending marks."""
        with connect(self.path) as db:
            db.executemany("DELETE FROM trigger_marks WHERE actor = ?", [(a,) for a in actors])
