"""The one policy for the API's background refreshes (trending catalogue, co-interaction index, model).

A refresh that fails is logged, the last good state keeps being served, and the next attempt waits
5 s, 10 s, 20 s, ... (``refresh_retry_s`` doubling, at most ``refresh_retry_max_s``) instead of
coming on the next maintenance tick: a store hiccup must neither abort the API's startup nor turn
into a full export every few seconds against a store that is already struggling.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Backoff:
    """When the next attempt after a run of failures is due: ``first_s * 2 ** (failures - 1)``, capped."""

    def __init__(self, *, first_s: float, cap_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if first_s <= 0 or cap_s < first_s:
            raise ValueError(f"backoff needs 0 < first_s <= cap_s (got {first_s}, {cap_s})")
        self.first_s = first_s
        self.cap_s = cap_s
        self._clock = clock
        self.failures = 0
        self._retry_at = float("-inf")

    @property
    def ready(self) -> bool:
        """No failure is being waited out."""
        return self._clock() >= self._retry_at

    def failed(self) -> float:
        """Count a failure; returns the seconds until the next attempt."""
        self.failures += 1
        delay = min(self.cap_s, self.first_s * 2.0 ** (self.failures - 1))
        self._retry_at = self._clock() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self._retry_at = float("-inf")


class Refresher:
    """Runs ``refresh`` every ``every_s`` under the policy; ``refresh`` raises to say it failed.

    :meth:`run` never raises (startup calls it), :meth:`tick` runs only when due (the maintenance
    loop calls it). ``needs_store``: skipped while the store is known to be down (the watchdog
    brings it back; a refresh would only fail).
    """

    def __init__(
        self,
        name: str,
        refresh: Callable[[], object],
        *,
        every_s: float,
        backoff: Backoff,
        needs_store: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.needs_store = needs_store
        self.every_s = every_s
        self.backoff = backoff
        self.last_error: str | None = None
        self._refresh = refresh
        self._clock = clock
        self._done_at = float("-inf")
        self._lock = threading.Lock()  # one run at a time (the loop's thread vs a direct call)

    @property
    def due(self) -> bool:
        return self.backoff.ready and self._clock() - self._done_at >= self.every_s

    def tick(self) -> bool:
        """Run if due; True when a run succeeded."""
        return self.run() if self.due else False

    def run(self) -> bool:
        """Refresh now; on failure log, back off and keep the last good state. True on success."""
        if not self._lock.acquire(blocking=False):
            return False
        try:
            self._refresh()
        except Exception as exc:
            delay = self.backoff.failed()
            self.last_error = f"{type(exc).__name__}: {exc}"
            if self.backoff.failures == 1:
                logger.warning(
                    "%s refresh failed; serving the last good state, retry in %.0f s", self.name, delay, exc_info=True
                )
            else:
                logger.warning(
                    "%s refresh failed again (%d in a row: %s); retry in %.0f s",
                    self.name,
                    self.backoff.failures,
                    self.last_error,
                    delay,
                )
            return False
        else:
            if self.backoff.failures:
                logger.info("%s refreshed again after %d failed attempts", self.name, self.backoff.failures)
            self.backoff.succeeded()
            self.last_error = None
            self._done_at = self._clock()
            return True
        finally:
            self._lock.release()
