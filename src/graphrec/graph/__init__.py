"""The graph store port and its adapters (Neo4j for production, FalkorDB embedded by default)."""

from graphrec.graph.port import GraphStore
from graphrec.graph.records import (
    BatchGuard,
    Candidate,
    GraphCounts,
    Interaction,
    InteractionDelta,
    ItemRecord,
    UserRecord,
)

__all__ = [
    "BatchGuard",
    "Candidate",
    "GraphCounts",
    "GraphStore",
    "Interaction",
    "InteractionDelta",
    "ItemRecord",
    "UserRecord",
]
