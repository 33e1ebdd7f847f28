"""Shared fixtures: a real embedded FalkorDB store and a real Neo4j 5 server, both started here.

The embedded server is started once per test session with ``die_with_parent`` so even a killed
pytest cannot orphan it, and stopped at the end; each test gets an emptied graph. Neo4j is the
official test harness (``tests/neo4j_harness``), started lazily once per session by the first test
that needs it and stopped at the end; ``NEO4J_URI`` (+ ``NEO4J_USER``/``NEO4J_PASSWORD``) points the
suite at a server you run instead. A missing Java or Maven fails those tests: they are never skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from neo4j_harness import USER, Neo4jHarness

from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.graph.port import GraphStore

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def pytest_configure(config: pytest.Config) -> None:
    """Session-scoped fixtures and servers started before any test get a session event log, never the
    checkout's ``.graphrec/events.sqlite``; each test then gets its own (``_own_event_log``)."""
    import tempfile

    session_dir = Path(tempfile.mkdtemp(prefix="graphrec-eventlog-"))
    os.environ["GRAPHREC_EVENT_LOG"] = str(session_dir / "events.sqlite")


@pytest.fixture(autouse=True)
def _own_event_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's Settings() (and the servers it starts) append to a log of its own."""
    path = tmp_path / "events.sqlite"
    monkeypatch.setenv("GRAPHREC_EVENT_LOG", str(path))
    return path


class _UnhandledErrors(logging.Handler):
    """Collects the API's catch-all 500s (``api.errors._unhandled`` logs each as "unhandled error")."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("unhandled error"):
            self.seen.append(record.getMessage())


@pytest.fixture(autouse=True)
def _no_unhandled_500s(request: pytest.FixtureRequest) -> Iterator[None]:
    """No request anywhere in the suite may reach the API's catch-all 500 (issue 25's acceptance): bad
    input is a 4xx, a store outage a 503. Servers the tests start in a subprocess are checked the same way
    by ``tests.live_api.stop_api``. A test that injects a fault on purpose says so with ``server_error``."""
    handler = _UnhandledErrors()
    logger = logging.getLogger("api.errors")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if request.node.get_closest_marker("server_error") is None:
        assert handler.seen == [], f"the API answered 500 (unhandled error): {handler.seen}"


@dataclass(frozen=True)
class Neo4jServer:
    uri: str
    user: str
    password: str
    database: str = "neo4j"


@pytest.fixture(scope="session")
def embedded_store_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FalkorDBStore]:
    store = FalkorDBStore.embedded(tmp_path_factory.mktemp("store"), graph="contract", batch_size=1000,
                                   die_with_parent=True)
    store.apply_schema()
    yield store
    store.close()


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[Neo4jServer]:
    """A live Neo4j 5 (+ GDS): the harness this session starts, or the one NEO4J_URI names."""
    if os.environ.get("NEO4J_URI"):
        yield Neo4jServer(os.environ["NEO4J_URI"], os.environ.get("NEO4J_USER", "neo4j"),
                          os.environ.get("NEO4J_PASSWORD", ""), os.environ.get("NEO4J_DATABASE", "neo4j"))
        return
    with Neo4jHarness() as harness:
        yield Neo4jServer(harness.uri, USER, harness.password)


@pytest.fixture(scope="session")
def neo4j_store_session(neo4j_server: Neo4jServer) -> Iterator[Neo4jStore]:
    store = Neo4jStore.connect(neo4j_server.uri, neo4j_server.user, neo4j_server.password,
                               database=neo4j_server.database, batch_size=1000)
    store.clear()
    store.apply_schema()
    yield store
    store.clear()
    store.close()


@pytest.fixture(params=["falkordb", "neo4j"])
def any_store(request: pytest.FixtureRequest) -> GraphStore:
    """Every GraphStore adapter, each a real server with an emptied graph, for the contract suite."""
    store: GraphStore = request.getfixturevalue(
        "embedded_store_session" if request.param == "falkordb" else "neo4j_store_session")
    store.clear()
    return store


@pytest.fixture
def neo4j_store(neo4j_store_session: Neo4jStore) -> Neo4jStore:
    """The live Neo4j with an empty graph (schema applied)."""
    neo4j_store_session.clear()
    return neo4j_store_session


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
