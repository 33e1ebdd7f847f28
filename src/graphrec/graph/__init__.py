"""The graph store port and its adapters (Neo4j for production, FalkorDB embedded by default)."""

from graphrec.graph.port import (
    Bookkeeping,
    CatalogueStore,
    GraphStore,
    IdentityStore,
    InteractionStore,
    ModelPublication,
    StoreLifecycle,
)
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
    "Bookkeeping",
    "Candidate",
    "CatalogueStore",
    "GraphCounts",
    "GraphStore",
    "IdentityStore",
    "Interaction",
    "InteractionDelta",
    "InteractionStore",
    "ItemRecord",
    "ModelPublication",
    "StoreLifecycle",
    "UserRecord",
]
