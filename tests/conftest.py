"""Shared fixtures: a real embedded FalkorDB store (and Neo4j when NEO4J_URI is set).

The embedded server is started once per test session with ``die_with_parent`` so even a killed
pytest cannot orphan it, and stopped at the end; each test gets an emptied graph.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.port import GraphStore

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
NEO4J_SKIP_REASON = (
    "Neo4j contract run needs a server: set NEO4J_URI (e.g. bolt://localhost:7687), NEO4J_USER and "
    "NEO4J_PASSWORD, e.g. after `docker compose up -d neo4j`"
)


@pytest.fixture(scope="session")
def embedded_store_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorDBStore]:
    store = FalkorDBStore.embedded(tmp_path_factory.mktemp("store"), graph="contract", batch_size=1000,
                                   die_with_parent=True)
    store.apply_schema()
    yield store
    store.close()


def _neo4j_store() -> GraphStore:
    from graphrec.graph.neo4j_store import Neo4jStore

    return Neo4jStore.connect(os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER", "neo4j"),
                              os.environ.get("NEO4J_PASSWORD"),
                              database=os.environ.get("NEO4J_DATABASE", "neo4j"), batch_size=1000)


@pytest.fixture(params=["falkordb", "neo4j"])
def any_store(request: pytest.FixtureRequest, embedded_store_session: FalkorDBStore) -> Iterator[GraphStore]:
    """Every GraphStore adapter, for the contract suite; Neo4j only when NEO4J_URI is set."""
    if request.param == "falkordb":
        embedded_store_session.clear()
        yield embedded_store_session
        return
    if not os.environ.get("NEO4J_URI"):
        pytest.skip(NEO4J_SKIP_REASON)
    store = _neo4j_store()
    store.clear()
    store.apply_schema()
    yield store
    store.clear()
    store.close()


@pytest.fixture
def store(embedded_store_session: FalkorDBStore) -> FalkorDBStore:
    """The embedded store with an empty graph."""
    embedded_store_session.clear()
    return embedded_store_session


@pytest.fixture
def ml100k_dir() -> Path:
    path = SHARED_DATASETS / "ml-100k"
    if not (path / "u.data").exists():
        pytest.skip(f"MovieLens 100K not found at {path} (optional dataset beside the checkout)")
    return path
