"""Write a validated dataset into the graph: exactly once, in batches, resumable.

The ledger key is the SHA-256 of the input files, so importing the same content again is a no-op,
and an import interrupted halfway resumes at the first batch the ledger has not seen (each batch
and its ledger step commit atomically; see ``BatchGuard``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from graphrec.data.columns import aggregate, delta_batches
from graphrec.data.readers import Dataset
from graphrec.data.weighing import Weigher
from graphrec.events.log import EventLog
from graphrec.graph.port import GraphStore
from graphrec.graph.records import BatchGuard, UserRecord

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ImportReport:
    key: str
    events: int
    interactions: int
    users: int
    items: int
    batches_written: int
    batches_skipped: int
    already_imported: bool
    seconds: float

    @property
    def interactions_per_s(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def ledger_key(fmt: str, files: list[Path]) -> str:
    """Content identity of an import: format + the bytes of every file read."""
    digest = hashlib.sha256(fmt.encode())
    for path in files:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return f"import:{fmt}:{digest.hexdigest()}"


def import_dataset(
    store: GraphStore,
    dataset: Dataset,
    *,
    fmt: str,
    weigher: Weigher,
    batch_size: int,
    progress: Progress | None = None,
    log: EventLog | None = None,
    weight_cap: float | None = None,
) -> ImportReport:
    """Apply ``dataset`` once; ``progress`` is called with the number of edges written per batch.

    With ``log`` the events also go to the event log (ids ``<ledger key>:<line>``, so a resumed or
    repeated import logs each line once), before the ledger records the import as complete.
    ``weight_cap``: the weighting policy's edge cap (``weigher_for(...).weight_cap``), which the store
    saturates each imported edge's weight at, as it does for live events; None: no cap named."""
    started = time.perf_counter()
    key = ledger_key(fmt, dataset.files)
    events = dataset.events.num_rows
    if store.ledger_is_complete(key):
        logger.info("%s already imported (ledger %s): nothing to do", fmt, key)
        return ImportReport(key, events, 0, 0, 0, 0, 0, True, time.perf_counter() - started)
    store.apply_schema()
    aggregated = aggregate(dataset.events, weigher)
    user_ids = pc.unique(aggregated.column("u")).to_pylist()
    attrs = {u.id: u for u in dataset.users}
    store.upsert_users([attrs.get(u, UserRecord(u)) for u in user_ids])
    if dataset.items:
        store.upsert_items(dataset.items)
    start = store.ledger_position(key)
    written = skipped = 0
    for seq, batch in enumerate(delta_batches(aggregated, batch_size, weight_cap=weight_cap)):
        if seq < start:
            skipped += 1
        else:
            store.upsert_interactions(batch, guard=BatchGuard(key, seq))
            written += 1
        if progress is not None:
            progress(len(batch))
    if log is not None:
        log_events(log, dataset.events, key=key, batch_size=max(batch_size, 50_000))
    store.ledger_complete(key, rows=aggregated.num_rows)
    return ImportReport(
        key,
        events,
        aggregated.num_rows,
        len(user_ids),
        len(dataset.items),
        written,
        skipped,
        False,
        time.perf_counter() - started,
    )


def log_events(log: EventLog, events: pa.Table, *, key: str, batch_size: int = 50_000) -> int:
    """Append a canonical event table to the event log in batches; optional ``session_id``, ``device`` and
    ``section`` columns are kept when the reader produced them."""
    added = 0
    for start in range(0, events.num_rows, batch_size):
        chunk = events.slice(start, batch_size)
        names = chunk.column_names
        lines = chunk.column("line").to_numpy()
        context = {c: chunk.column(c).to_pylist() for c in ("session_id", "device", "section") if c in names}
        added += log.append_columns(
            chunk.column("user_id").to_pylist(),
            [f"{key}:{n}" for n in lines.tolist()],
            chunk.column("item_id").to_pylist(),
            chunk.column("type").to_numpy(),
            chunk.column("ts").to_numpy(),
            chunk.column("value").to_numpy(zero_copy_only=False),
            **context,
        )
    return added
