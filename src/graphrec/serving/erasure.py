"""Erasure that leaves nothing: one user's (and their merged visitors') data gone from every owner.

Why one place that calls every owner, rather than one module deleting every table: each module that
keeps per-user data erases its own (``forget``), and only this sequence knows the order:

1. the ids: the user and every anonymous visitor id merged into them (the event log remembers merges);
2. tombstones first (:mod:`graphrec.events.tombstones`): from here on, retried events from before the
   erasure are no-ops and nothing new is recorded for these ids, even while the rest runs;
3. the store (node, edges, embedding, consent, seen-event records; merged visitors' are the user's);
4. the event log file's owners: log rows and merge records, served lists / impressions / outcomes,
   trigger states and pending trigger marks, queued and delivered webhooks;
5. every model version on disk (:mod:`graphrec.model.erasure`): every API worker serving a version
   stops knowing the user as the id is blanked in its mapped ``user_ids.npy``;
6. the bytes: the SQLite WAL is checkpointed and truncated (``secure_delete`` zeroed the rows), and the
   store's append-only file is rewritten, waited for up to ``compact_timeout_s``.

Every step is idempotent, so a retried erasure finishes what a failed one started.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from graphrec import clock
from graphrec.behaviour.trigger_marks import TriggerMarks
from graphrec.behaviour.triggers import TriggerBook
from graphrec.events import identity
from graphrec.events.feedback import FeedbackLog
from graphrec.events.log import EventLog, checkpoint
from graphrec.events.tombstones import Tombstones
from graphrec.graph.port import IdentityStore
from graphrec.ids import ANON_PREFIX
from graphrec.model.erasure import forget_users
from graphrec.serving.webhooks import Outbox
from graphrec.snapshot import forget_users_in_snapshots

logger = logging.getLogger(__name__)


class ErasureOwner(Protocol):
    """A module keeping per-actor rows in the event log's file."""

    def forget(self, actors: Sequence[str]) -> object: ...


@dataclass(frozen=True, slots=True)
class ErasureReport:
    existed: bool  # the store or the log held anything about the ids
    actors: list[str]  # the user and the merged anonymous visitor ids erased with them
    versions: list[str]  # model versions that held any of them
    log_compacted: bool  # the SQLite WAL was checkpointed and truncated
    store_compacted: bool  # the store's history file was rewritten (False: none, or past the deadline)


@dataclass(frozen=True, eq=False)
class Eraser:
    """Erases a user everywhere graphrec keeps data (see the module docstring)."""

    store: IdentityStore
    log: EventLog
    tombstones: Tombstones
    owners: tuple[ErasureOwner, ...]  # the log file's other tables' owners
    models_path: Path
    compact_timeout_s: float = 20.0
    snapshots_path: Path | None = None  # graphrec export's default place, under the data directory

    @classmethod
    def for_log(
        cls,
        store: IdentityStore,
        log: EventLog,
        tombstones: Tombstones,
        *,
        models_path: Path,
        compact_timeout_s: float,
        feedback: FeedbackLog | None = None,
        snapshots_path: Path | None = None,
    ) -> Eraser:
        """The eraser over every owner graphrec puts in the event log's file; ``feedback``: the API's own
        feedback log, whose queue of served lists must go too (a fresh one over the file otherwise)."""
        owners: tuple[ErasureOwner, ...] = (
            feedback or FeedbackLog(log.path),
            TriggerBook(log.path),
            TriggerMarks(log.path),
            Outbox(log.path),
        )
        return cls(store, log, tombstones, owners, models_path, compact_timeout_s, snapshots_path)

    def erase(self, user_id: str) -> ErasureReport:
        actors = [user_id, *self.log.aliases(user_id)]
        self.tombstones.record(actors, erased_ms=clock.now_ms())
        existed = identity.erase(self.store, user_id=user_id)
        for alias in actors[1:]:  # a visitor's node recreated by a batch retried after the merge
            if alias.startswith(ANON_PREFIX):
                existed = self.store.erase_user(user_id=alias) or existed
        existed = self.log.forget(actors) > 0 or existed
        for owner in self.owners:
            owner.forget(actors)
        versions = forget_users(self.models_path, actors)
        if self.snapshots_path is not None:
            forget_users_in_snapshots(self.snapshots_path, actors)
        log_compacted = checkpoint(self.log.path, timeout_s=self.compact_timeout_s)
        store_compacted = self.store.compact_history(timeout_s=self.compact_timeout_s)
        if not log_compacted:
            logger.warning(
                "erasure: the event log's WAL was not checkpointed within %.0f s; the next "
                "checkpoint removes the erased rows' old pages",
                self.compact_timeout_s,
            )
        return ErasureReport(existed, actors, versions, log_compacted, store_compacted)
