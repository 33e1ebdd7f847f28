"""Replay an event log (JSON Lines, one event per line) through the same pipeline as the API.

The whole file is validated first (streaming, bounded memory); if any line is bad nothing is
written and every bad line is reported with its number and reason. Then the file is read again and
written in batches; replaying a file twice is harmless (event ids are recorded exactly once). An
event id reused with different content (within the file or against a recorded event) stops the
replay with a :class:`ReplayError` naming its line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from graphrec.events.idempotency import IdempotencyConflict
from graphrec.events.pipeline import EventPipeline, IngestReport
from graphrec.events.schema import EventError, EventIn, EventValidationError, validate_event

MAX_REPORTED_ERRORS = 50


class ReplayError(ValueError):
    """The file cannot be replayed; ``errors`` hold (line, field, reason) for each bad line."""

    def __init__(self, path: Path, errors: list[EventError], *, truncated: bool = False) -> None:
        self.path = path
        self.errors = errors
        self.truncated = truncated
        lines = [f"{path}:{e.index}: {e.field}: {e.reason}" for e in errors]
        if truncated:
            lines.append(f"{path}: (more errors not shown)")
        super().__init__("\n".join(lines))


def _events(path: Path, *, now_ms: int, skew_ms: int) -> Iterator[tuple[int, EventIn | list[EventError]]]:
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as exc:
                yield lineno, [EventError(lineno, "line", f"malformed JSON: {exc.msg} at column {exc.colno}")]
                continue
            try:
                yield lineno, validate_event(raw, now_ms=now_ms, skew_ms=skew_ms, index=lineno)
            except EventValidationError as exc:
                yield lineno, exc.errors


def validate_file(path: Path, *, now_ms: int, skew_ms: int) -> int:
    """Check every line; returns the number of events or raises :class:`ReplayError`."""
    errors: list[EventError] = []
    count = 0
    try:
        for _lineno, item in _events(path, now_ms=now_ms, skew_ms=skew_ms):
            if isinstance(item, list):
                errors.extend(item)
                if len(errors) >= MAX_REPORTED_ERRORS:
                    raise ReplayError(path, errors[:MAX_REPORTED_ERRORS], truncated=True)
            else:
                count += 1
    except UnicodeDecodeError:
        raise ReplayError(path, [EventError(None, "file", "not UTF-8 text")]) from None
    except OSError as exc:
        raise ReplayError(path, [EventError(None, "file", f"cannot read: {exc.strerror}")]) from None
    if errors:
        raise ReplayError(path, errors)
    return count


def replay_file(
    path: Path, pipeline: EventPipeline, *, now_ms: int, skew_ms: int, batch_size: int = 1_000
) -> IngestReport:
    """Validate ``path`` whole, then write it in batches; events of users without consent are dropped."""
    validate_file(path, now_ms=now_ms, skew_ms=skew_ms)
    total = IngestReport()
    batch: list[EventIn] = []
    lines: list[int] = []
    for lineno, item in _events(path, now_ms=now_ms, skew_ms=skew_ms):
        if isinstance(item, list):  # the file changed since it was validated
            raise ReplayError(path, item)
        batch.append(item)
        lines.append(lineno)
        if len(batch) >= batch_size:
            total.add(_ingest(path, pipeline, batch, lines))
            batch, lines = [], []
    if batch:
        total.add(_ingest(path, pipeline, batch, lines))
    return total


def _ingest(path: Path, pipeline: EventPipeline, batch: list[EventIn], lines: list[int]) -> IngestReport:
    """One batch; an event id reused with other content stops the replay at that batch (the batches
    before it are written, and replaying the corrected file again is harmless)."""
    try:
        return pipeline.ingest(batch, on_refused="drop")
    except IdempotencyConflict as exc:
        raise ReplayError(
            path,
            [EventError(lines[c.index], "event_id", c.reason) for c in exc.conflicts[:MAX_REPORTED_ERRORS]],
            truncated=len(exc.conflicts) > MAX_REPORTED_ERRORS,
        ) from None
