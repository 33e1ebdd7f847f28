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
    (
        "commands",
        ("graphrec.commands", "graphrec.cli", "graphrec.__main__", "graphrec.demo", "graphrec.neo4j_local"),
    ),
)
"""Bottom first; the README's architecture table tells the same story, one row per place.

- ``kernel``: settings and the store-URI parser, the id rule, time and the recency decay, the closed set
  of event types, user tokens, progress output, this map.
- ``graph``: the store ports and the records they return, the edge-combination rule, the Cypher (written
  once, two dialects), the FalkorDB and Neo4j adapters; no knowledge of any layer above.
- ``data``: the ingest pipeline (events: validation, policy, cleaning, group commit, identity, the
  feedback log), importers and the generator, export to training snapshots.
- ``scoring``: the rules every higher layer shares: the capped traversal and the blend; the parts of
  offline evaluation (``evaluation``: the ``EvaluatedModel`` interface, splits, metrics, baselines);
  the ANN index; behaviour analytics, the online A/B experiment's split and report among them.
- ``model``: GraphSAGE, training, artifacts, item neighbours, the blend's weights, train and publish.
- ``recommend``: pure ranking (``ranking``), the ``Recommender`` use cases the API calls
  (``recommender``: reads the store, records what it served), the one serving configuration
  (``serving_config``), the co-interaction index, trending and the catalogue view, filters, MMR,
  explanations.
- ``serving``: what a running API holds: the served model (hot swap), the in-memory indexes, the running
  A/B experiment, webhooks, erasure across every holder of per-user data.
- ``offline``: offline evaluation on held-out data: ``graphrec evaluate``, ``graphrec runs``, the new-user
  protocol, its tuner and report. Above ``serving`` because the new-user protocol serves held-out users
  through the very function the API answers with. "Experiment" means an online A/B test only
  (``serving``, with its split and report in ``behaviour``).
- ``api``: HTTP (the web app, its own top-level folder): routers, schemas, dependencies, admission;
  HTTP codes live only here.
- ``commands``: the ``graphrec`` CLI and the demo; the only layer that starts the web app; the local
  Neo4j the CLI runs (``neo4j_local``: launcher, Maven classpath, Browser guide), which the tests'
  Neo4j harness runs too."""


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
