"""The vectorised hook through which importers turn events into edge weights.

Importers never hard-code weights: they call a ``Weigher`` with event-type codes (indexes into
``graphrec.events.types.EVENT_TYPES``) and values (NaN where a type has none), so file imports and
the live event API apply one policy.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Weigher(Protocol):
    def __call__(self, type_codes: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per-event weights (float64), same length as the inputs."""
        ...


def provisional_weigher(codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Stand-in until the event policy (issue 3) supplies weights: one table lookup per type."""
    from graphrec.events.types import EVENT_TYPES

    table = {"view": 1.0, "click": 2.0, "hover": 0.5, "scroll": 1.0, "dwell": 1.5, "add_to_cart": 4.0,
             "purchase": 6.0, "rating": 1.0, "like": 3.0, "share": 3.0, "video_play": 1.5, "dislike": -3.0}
    lookup = np.array([table[t] for t in EVENT_TYPES])
    return lookup[codes]
