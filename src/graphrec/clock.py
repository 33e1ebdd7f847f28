"""Time, one home: the clock in epoch milliseconds, a day in milliseconds, and the recency decay rule
``decayed = weight * 0.5 ** ((reference - last_ts) / half_life)`` with its floor.

Why one module: the clock was read as ``int(time.time() * 1000)`` in two dozen places and the decay was
written twice (with and without its floor); a rule written twice drifts.

Weights are stored undecayed; the store's traversal (Cypher), the snapshot exporter, the serving
path and the popular-items cache all apply the decay at read time with ``Settings.half_life_days``.
Future ``last_ts`` (clock skew) is clamped to no decay rather than amplified.

**The reference is the newest event that takes part, never the wall clock**: the newest edge of an
exported snapshot, the newest edge of the user whose seeds are decayed, the newest edge of the
trending window. Decay is there to rank recent behaviour above old behaviour *within* one data set or
one user; measured from today, a data set from 1997 (MovieLens) decayed by 30-day half-lives is
``0.5 ** 350`` for every edge, which float32 rounds to 0, so every weight vanished and every ranking
became a tie. Relative to the newest event, shifting every timestamp of a data set by 20 years
changes no weight and no ranking. The arithmetic is float64, and a non-zero weight never decays to
zero (it stops at the smallest normal float32, keeping its sign), so an edge is never dropped or
turned into a tie by age alone.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported where used: reading the clock must not cost a CLI's start-up numpy
    import numpy as np

__all__ = ["DAY_MS", "HOUR_MS", "decay_reference", "decay_weights", "decayed_weight", "now_ms"]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
_FLOOR = 2.0**-126  # the smallest normal float32, numpy.finfo(numpy.float32).tiny


def now_ms() -> int:
    """The wall clock in epoch milliseconds (event timestamps' unit)."""
    return int(time.time() * 1000)


def decay_reference(last_ts: np.ndarray, *, default: int) -> int:
    """The newest of ``last_ts`` (what decay is measured from), or ``default`` when there is none."""
    import numpy as np

    return int(np.max(last_ts)) if len(last_ts) else int(default)


def decay_weights(
    weights: np.ndarray, last_ts: np.ndarray, *, now_ms: int | np.ndarray, half_life_days: float
) -> np.ndarray:
    """Vectorised decay relative to ``now_ms`` (pass the reference of the module docstring; an array
    gives each edge its own), float32 out; non-zero weights keep their sign and stay at least the
    smallest normal float32 in size."""
    import numpy as np

    age = np.maximum(np.asarray(now_ms, dtype=np.int64) - np.asarray(last_ts, dtype=np.int64), 0).astype(np.float64)
    w = np.asarray(weights, dtype=np.float64)
    decayed = w * 0.5 ** (age / (half_life_days * DAY_MS))
    floored = np.where(w != 0, np.copysign(np.maximum(np.abs(decayed), _FLOOR), w), 0.0)
    return floored.astype(np.float32)


def decayed_weight(weight: float, last_ts: int, *, now_ms: int, half_life_days: float) -> float:
    """Scalar form of :func:`decay_weights` (API responses, tests), with the same floor."""
    age = max(now_ms - int(last_ts), 0)
    factor: float = 0.5 ** (age / (half_life_days * DAY_MS))  # float ** float is typed Any (could be complex)
    decayed = float(weight) * factor
    return math.copysign(max(abs(decayed), _FLOOR), weight) if weight != 0 else 0.0
