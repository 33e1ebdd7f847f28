"""Keeps the API's next-category model (:mod:`graphrec.behaviour.next_action`) fitted from the event log."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

from graphrec import clock
from graphrec.behaviour.next_action import NextActionModel, fit_next_action
from graphrec.clock import DAY_MS
from graphrec.events.log import EventLog

logger = logging.getLogger(__name__)


class NextActionHolder:
    """One model reference swapped atomically; requests read ``model`` once and keep what they got.

    The window ends at the newest logged event (a log from the past still gives a model); bot-flagged
    events are left out. How often :meth:`refresh` runs is the caller's policy.
    """

    def __init__(self, *, window_days: int, smoothing: float) -> None:
        self.window_days = window_days
        self.smoothing = smoothing
        self.model = NextActionModel(smoothing=smoothing)

    def refresh(self, log: EventLog, item_categories: Mapping[str, Sequence[str]]) -> NextActionModel:
        """Refit from the log's window; raises (keeping the current model) when the log cannot be read."""
        started = time.perf_counter()
        now_ms = clock.now_ms()
        newest = log.newest_ms()
        since = (newest if newest is not None else now_ms) - self.window_days * DAY_MS
        cols = log.columns(since_ms=since, include_flagged=False)
        model = fit_next_action(cols, item_categories, smoothing=self.smoothing, fitted_ms=now_ms)
        self.model = model
        logger.info(
            "next-category model: %s steps, %s sessions, %s categories in %.2fs",
            f"{model.steps:,}",
            f"{model.sessions:,}",
            len(model.categories),
            time.perf_counter() - started,
        )
        return model
