"""The choices ``graphrec import`` and ``graphrec generate`` offer: input formats, rating modes and the
generator's defaults.

Why a module of their own: the CLI names them in its option help, and it imports every command module
to assemble itself; the readers and the generator that own the rules import numpy and pyarrow, which
``graphrec --help`` must not pay for. They use these very values (one home each).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

FORMATS: Final[tuple[str, ...]] = ("movielens", "movielens-csv", "lightgcn", "events")
"""The formats ``graphrec import`` reads (:func:`graphrec.data.readers.read_dataset`)."""

RATING_MODES: Final[tuple[str, ...]] = ("signed", "positive", "implicit")
"""How MovieLens stars become interactions (:mod:`graphrec.data.ratings`)."""

DEFAULT_END = datetime(2026, 11, 1, tzinfo=UTC)
"""The generator's last event time unless told otherwise."""

DEFAULT_MIX: Mapping[str, float] = MappingProxyType(
    {"regular": 0.53, "browser": 0.15, "decider": 0.12, "casual": 0.10, "enthusiast": 0.085, "bot": 0.015}
)
"""The generator's shares of users per behavioural type (:data:`graphrec.data.synthetic.BEHAVIOUR_TYPES`)."""
