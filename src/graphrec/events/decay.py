"""Recency decay, one formula everywhere: ``decayed = weight * 0.5 ** ((now - last_ts) / half_life)``.

Weights are stored undecayed; the store's traversal (Cypher) and the snapshot exporter
(:func:`graphrec.snapshot.decay_weights`) apply this at read time with ``Settings.half_life_days``.
Future ``last_ts`` (clock skew) is clamped to no decay.
"""

from __future__ import annotations

from graphrec.snapshot import DAY_MS, decay_weights

__all__ = ["decay_weights", "decayed_weight"]


def decayed_weight(weight: float, last_ts: int, *, now_ms: int, half_life_days: float) -> float:
    """Scalar form of :func:`graphrec.snapshot.decay_weights` (API responses, tests)."""
    age = max(now_ms - int(last_ts), 0)
    return float(weight) * 0.5 ** (age / (half_life_days * DAY_MS))
