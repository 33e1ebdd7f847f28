"""Recency decay, one formula everywhere: ``decayed = weight * 0.5 ** ((now - last_ts) / half_life)``.

Weights are stored undecayed; the store's traversal (Cypher), the snapshot exporter, the serving
path and the popular-items cache all apply this at read time with ``Settings.half_life_days``.
Future ``last_ts`` (clock skew) is clamped to no decay rather than amplified.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DAY_MS", "decay_weights", "decayed_weight"]

DAY_MS = 86_400_000


def decay_weights(weights: np.ndarray, last_ts: np.ndarray, *, now_ms: int, half_life_days: float) -> np.ndarray:
    """Vectorised decay (float32 out), the store's formula."""
    age = np.maximum(now_ms - np.asarray(last_ts, dtype=np.int64), 0).astype(np.float64)
    return (np.asarray(weights, dtype=np.float64) * 0.5 ** (age / (half_life_days * DAY_MS))).astype(np.float32)


def decayed_weight(weight: float, last_ts: int, *, now_ms: int, half_life_days: float) -> float:
    """Scalar form of :func:`decay_weights` (API responses, tests)."""
    age = max(now_ms - int(last_ts), 0)
    return float(weight) * 0.5 ** (age / (half_life_days * DAY_MS))
