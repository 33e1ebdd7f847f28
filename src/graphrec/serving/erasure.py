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
   store's append-only file is rewritten, waited for up to ``compact_timeout_s``. A rewrite that does not
   finish in time (a loaded machine, or one already running that forked before the erasure and must be
   waited out before a new one can start) is not left to chance: :class:`CompactionFinisher` keeps
   asking in the background until a rewrite that started after the erasure has finished.

Every step is idempotent, so a retried erasure finishes what a failed one started.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


class CompactionFinisher:
    """Finishes the store's history rewrite an erasure could not wait out, on one background thread.

    Why a thread of its own and not the request: the 204 must not wait minutes on a loaded machine, and
    the erased data is already gone from every read; only the store's file still holds old bytes. One
    rewrite that starts after every erasure so far covers them all, so requests made while it runs only
    ask for one more round. Each round waits up to ``round_s``; a failed round is retried after
    ``retry_s`` (doubling, at most ``max_retry_s``) for as long as the process lives."""

    def __init__(
        self, compact: Callable[[float], bool | None], *, round_s: float, retry_s: float, max_retry_s: float
    ) -> None:
        self._compact = compact
        self._round_s, self._retry_s, self._max_retry_s = round_s, retry_s, max_retry_s
        self._lock = threading.Lock()
        self._wanted = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def request(self) -> None:
        """Ask for one more rewrite that starts after this call (starts the thread when none runs)."""
        with self._lock:
            self._wanted = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="graphrec-erasure-compaction", daemon=True)
                self._thread.start()

    @property
    def pending(self) -> bool:
        """A rewrite is still owed (asked for and not yet finished)."""
        with self._lock:
            return self._wanted or (self._thread is not None and self._thread.is_alive())

    def close(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)

    def _run(self) -> None:
        wait = self._retry_s
        while not self._stop.is_set():
            with self._lock:
                if not self._wanted:
                    self._thread = None
                    return
                self._wanted = False
            try:
                done = self._compact(self._round_s)
            except Exception:  # noqa: BLE001 - a store error: retried like a late rewrite
                logger.exception("erasure: rewriting the store's history file failed; retrying")
                done = False
            if done is False:
                with self._lock:
                    self._wanted = True
                logger.warning("erasure: the store's history file is not rewritten yet; retrying in %.0f s", wait)
                if self._stop.wait(wait):
                    return
                wait = min(wait * 2, self._max_retry_s)
            else:
                wait = self._retry_s
                logger.info("erasure: the store's history file was rewritten after the erasure")


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
    finisher: CompactionFinisher | None = field(default=None)  # a late store rewrite, finished in the background

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
        finisher = CompactionFinisher(
            lambda round_s: store.compact_history(timeout_s=round_s),
            round_s=max(compact_timeout_s, 60.0),
            retry_s=5.0,
            max_retry_s=300.0,
        )
        return cls(store, log, tombstones, owners, models_path, compact_timeout_s, snapshots_path, finisher)

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
        compacted = self.store.compact_history(timeout_s=self.compact_timeout_s)
        if compacted is False and self.finisher is not None:
            self.finisher.request()  # the 204 does not wait longer; the rewrite is still owed
        store_compacted = bool(compacted)
        if not log_compacted:
            logger.warning(
                "erasure: the event log's WAL was not checkpointed within %.0f s; the next "
                "checkpoint removes the erased rows' old pages",
                self.compact_timeout_s,
            )
        return ErasureReport(existed, actors, versions, log_compacted, store_compacted)
