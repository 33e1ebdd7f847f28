"""The layer map: which part of graphrec may import which (imports point downward only).

Why it is code: a map in a README drifts; this one is what ``tests/test_layers.py`` enforces, so an
upward import (a store adapter reaching into the ingest pipeline, the library importing the web
app) fails the build the day it is written, not months later when someone tries to change a layer.

Each layer names top-level modules or packages of ``graphrec`` (and ``api``, the web app, which the
design card keeps in its own top-level folder). A module may import its own layer's modules and any
lower layer's; inside one layer the imports between packages must not form a cycle.
"""

from __future__ import annotations

from typing import Final

LAYERS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (
        "kernel",
        (
            "graphrec",
            "graphrec.config",
            "graphrec.clock",
            "graphrec.ids",
            "graphrec.progress",
            "graphrec.event_types",
            "graphrec.layers",
            "graphrec.user_tokens",
        ),
    ),
    ("graph", ("graphrec.graph",)),
    ("data", ("graphrec.events", "graphrec.data", "graphrec.snapshot", "graphrec.export")),
    ("scoring", ("graphrec.scoring", "graphrec.evaluation", "graphrec.index", "graphrec.behaviour")),
    ("model", ("graphrec.model",)),
    ("recommend", ("graphrec.recommend",)),
    ("serving", ("graphrec.serving",)),
    ("offline", ("graphrec.offline",)),
    ("api", ("api",)),
    ("commands", ("graphrec.commands", "graphrec.cli", "graphrec.__main__", "graphrec.demo")),
)
"""Bottom first. ``kernel``: settings, the id rule, time and decay, user tokens, progress reporting and the
closed set of event types;
``graph``: the store ports, their adapters and Cypher dialects; ``data``: the ingest pipeline,
importers, snapshots and export; ``scoring``: the traversal and blend rules, ranking metrics, splits
and baselines, the ANN index, behaviour profiles and segments; ``model``: GraphSAGE, training,
artifacts, blend tuning and publishing; ``recommend``: candidates, filters, explanations; ``serving``: the
served model, in-memory indexes and the running A/B experiment; ``offline``: offline evaluation (models
compared on held-out data, training runs side by side, the new-user protocol and the new-user blend's tuner),
above the serving path because the new-user protocol scores held-out users through the very function the
API answers with (online A/B experiments are ``serving``'s, with their analysis in ``behaviour``);
``api``: HTTP; ``commands``: the CLI."""


def unit_of(module: str) -> str | None:
    """The layer unit (a name listed in :data:`LAYERS`) that ``module`` belongs to: the longest listed
    prefix, so ``graphrec.graph.port`` belongs to ``graphrec.graph``; None for a module no layer lists."""
    best: str | None = None
    for _, units in LAYERS:
        for unit in units:
            # the bare package ``graphrec`` is its ``__init__`` only: an unlisted module has no layer
            inside = module == unit or (unit != "graphrec" and module.startswith(unit + "."))
            if inside and (best is None or len(unit) > len(best)):
                best = unit
    return best


def layer_of(unit: str) -> int:
    """Position of ``unit``'s layer, 0 at the bottom."""
    for position, (_, units) in enumerate(LAYERS):
        if unit in units:
            return position
    raise KeyError(unit)
