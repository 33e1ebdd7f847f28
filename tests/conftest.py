"""Shared fixtures: a real embedded FalkorDB store and a real Neo4j 5 server, both started here.

The embedded server is started once per test session with ``die_with_parent`` so even a killed
pytest cannot orphan it, and stopped at the end; each test gets an emptied graph. Neo4j is the
official test harness (``tests/neo4j_harness``), started lazily once per session by the first test
that needs it and stopped at the end (so is Apache Kafka, ``tests/kafka_harness``: ``kafka_broker``);
``NEO4J_URI`` (+ ``NEO4J_USER``/``NEO4J_PASSWORD``) points the suite at a server you run instead. A
missing Java or Maven fails those tests: they are never skipped.

Unit tests and integration tests: a test that starts a process (a real server: embedded FalkorDB,
Neo4j, Kafka, a browser, Node.js, the API; or the CLI in a subprocess) is marked ``integration``: here at
collection when one of its fixtures, at any depth, requests ``starts_processes`` (as every fixture that
starts a process does), or by its own ``pytest.mark.integration`` (or its module's) when the test starts
one itself. Every other test is a unit test, and ``make check`` runs those (``-m "not integration"``).
The rule holds itself: a test without the marker that starts a server anyway fails, saying why
(``_no_processes``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deadlines import START_S
from kafka_harness import KafkaHarness
from neo4j_harness import USER, Neo4jHarness
from process_guard import refusing_processes

from graphrec.commands.process_exit import leave_heap_to_the_os
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.graph.port import GraphStore

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def starts_processes() -> None:
    """Requested by every fixture that starts a process (a real server, a browser, Node.js): the tests
    using such a fixture, at any depth, are integration tests (``pytest_collection_modifyitems``)."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``integration`` every test whose fixtures (their whole closure) start a process."""
    for item in items:
        if "starts_processes" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


def _no_processes(item: pytest.Item) -> Generator[None, object, object]:
    """Around a unit test's setup and call: no server may start (``process_guard``)."""
    if item.get_closest_marker("integration") is not None:
        return (yield)
    refused: list[str] = []
    patch = refusing_processes(item, refused)
    try:
        return (yield)
    finally:
        patch.undo()
        if refused:  # whatever the test made of the refusal (a 503, an error in a thread), this is why
            raise pytest.fail.Exception(refused[0], pytrace=False) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _no_processes(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _no_processes(item))


_SESSION_LOG_DIR = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    """Session-scoped fixtures and servers started before any test get a session event log, never the
    checkout's ``.graphrec/events.sqlite``; each module (``_module_event_log``) and each test
    (``_own_event_log``) then gets its own. The session's folder is removed at the end."""
    import tempfile

    session_dir = Path(tempfile.mkdtemp(prefix="graphrec-eventlog-"))
    config.stash[_SESSION_LOG_DIR] = session_dir
    os.environ["GRAPHREC_EVENT_LOG"] = str(session_dir / "events.sqlite")


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run is over (reports written, servers stopped): the session's log folder goes, then the process
    exits without the interpreter's collections over a heap holding torch and the app, as every graphrec
    process does (``process_exit``)."""
    import shutil

    session_dir = config.stash.get(_SESSION_LOG_DIR, None)
    if session_dir is not None:
        shutil.rmtree(session_dir, ignore_errors=True)
    leave_heap_to_the_os()


@pytest.fixture(scope="module", autouse=True)
def _module_event_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every module's own event log for its module-scoped fixtures (an API a module starts once for all its
    tests). Autouse, so it is set before any other fixture of the module's scope. Why: with one log for the
    session, two modules' APIs appended to the same file, and one module's feedback tables counted the
    other module's visitors (found as a second anonymous visitor in the widgets' browser test)."""
    path = tmp_path_factory.mktemp("module-eventlog") / "events.sqlite"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRAPHREC_EVENT_LOG", str(path))
        yield path


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
def embedded_store_session(
    tmp_path_factory: pytest.TempPathFactory,
    starts_processes: None,
) -> Iterator[FalkorDBStore]:
    store = FalkorDBStore.embedded(
        tmp_path_factory.mktemp("store"), graph="contract", batch_size=1000, die_with_parent=True
    )
    store.apply_schema()
    yield store
    store.close()


@pytest.fixture(scope="session")
def neo4j_server(starts_processes: None) -> Iterator[Neo4jServer]:
    """A live Neo4j 5 (+ GDS): the harness this session starts, or the one NEO4J_URI names."""
    if os.environ.get("NEO4J_URI"):
        yield Neo4jServer(
            os.environ["NEO4J_URI"],
            os.environ.get("NEO4J_USER", "neo4j"),
            os.environ.get("NEO4J_PASSWORD", ""),
            os.environ.get("NEO4J_DATABASE", "neo4j"),
        )
        return
    with Neo4jHarness() as harness:
        yield Neo4jServer(harness.uri, USER, harness.password)


@pytest.fixture(scope="session")
def kafka_broker(starts_processes: None) -> Iterator[str]:
    """A live Apache Kafka 4 broker (KRaft, one node) for the session: its ``host:port`` bootstrap. Tests
    create topics of their own names, so they share the broker without sharing messages."""
    with KafkaHarness(start_s=START_S) as harness:
        yield harness.bootstrap


@pytest.fixture(scope="session")
def neo4j_store_session(neo4j_server: Neo4jServer) -> Iterator[Neo4jStore]:
    store = Neo4jStore.connect(
        neo4j_server.uri, neo4j_server.user, neo4j_server.password, database=neo4j_server.database, batch_size=1000
    )
    store.clear()
    store.apply_schema()
    yield store
    store.clear()
    store.close()


@pytest.fixture(params=["falkordb", "neo4j"])
def any_store(request: pytest.FixtureRequest, starts_processes: None) -> GraphStore:
    """Every GraphStore adapter, each a real server with an emptied graph, for the contract suite."""
    store: GraphStore = request.getfixturevalue(
        "embedded_store_session" if request.param == "falkordb" else "neo4j_store_session"
    )
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
