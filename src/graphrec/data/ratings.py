"""What a star rating means to graphrec: one explicit option, the same for imports and evaluation.

* ``signed`` (what ``graphrec import`` does by default): every rating is a ``rating`` event, weighed
  by the live policy with stars centred on 3 (``scale * (stars - 3) / 2``: 5 stars +3.0, 4 +1.5,
  3 0, 1 -3.0). The graph keeps the dislikes as negative evidence; training uses the edges whose
  weight is positive, i.e. ratings of 4 and 5 stars (55,375 of MovieLens 100K's 100,000).
* ``positive``: only ratings of ``POSITIVE_STARS`` or more are imported, weighed as under ``signed``:
  the same training edges, and a graph without the dislikes.
* ``implicit``: every rating is a ``view`` (a rating says the user watched the film), all weighing
  the same: the convention of the published LightGCN / implicit-feedback tables, and what
  ``graphrec evaluate --dataset movielens:`` uses by default.

``graphrec evaluate --dataset movielens:PATH --ratings MODE`` reads the file the way the import of
the same mode writes the store, so the file path and the store path train on the same edges.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graphrec.data.choices import RATING_MODES
from graphrec.event_types import EVENT_TYPES

RatingMode = Literal["signed", "positive", "implicit"]
POSITIVE_STARS: Final = 4.0
_VIEW = EVENT_TYPES.index("view")


def check_mode(mode: str) -> RatingMode:
    if mode not in RATING_MODES:
        raise ValueError(f"ratings must be one of {', '.join(RATING_MODES)}, not {mode!r}")
    return mode  # type: ignore[return-value]


def apply_rating_mode(events: pa.Table, mode: RatingMode) -> pa.Table:
    """Canonical rating events (``type`` rating, ``value`` stars) as ``mode`` says."""
    if check_mode(mode) == "signed":
        return events
    if mode == "positive":
        return events.filter(pc.greater_equal(events.column("value"), POSITIVE_STARS))
    n = events.num_rows
    events = events.set_column(
        events.schema.get_field_index("type"), "type", pa.array(np.full(n, _VIEW, dtype=np.int8))
    )
    return events.set_column(
        events.schema.get_field_index("value"),
        "value",
        pa.array(np.full(n, np.nan), type=events.schema.field("value").type),
    )


def rating_weights(stars: np.ndarray, mode: RatingMode, *, scale: float = 3.0) -> np.ndarray:
    """Per-rating training weight in an evaluation data set (0 = not a positive), consistent with
    what the policy gives the imported edges: ``implicit`` 1 for all, otherwise the centred stars
    for ratings of 4 and 5 (1.5 and 3.0 under the packaged policy's scale)."""
    stars = np.asarray(stars, dtype=np.float64)
    if check_mode(mode) == "implicit":
        return np.ones(len(stars))
    return np.where(stars >= POSITIVE_STARS, scale * (stars - 3.0) / 2.0, 0.0)
