"""API fixtures: the real app (lifespan included) over a real embedded store in a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.container import Services, services_of
from api.main import create_app
from graphrec.config import Settings
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.port import GraphStore

API_KEY = "test-key-1"


@pytest.fixture(scope="session")
def api_store_dir(tmp_path_factory: pytest.TempPathFactory, starts_processes: None) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("api-store")
    # A session lease keeps one server up; each app's lifespan joins it and leaves it running.
    holder = FalkorDBStore.embedded(path, graph="api", die_with_parent=True)
    yield path
    holder.close()


@pytest.fixture
def settings(api_store_dir: Path) -> Settings:
    return Settings(
        # the app keeps files there (its cursor secret): never the checkout's .graphrec
        data_dir=api_store_dir.parent / f"{api_store_dir.name}-data",
        graph_uri=f"embedded:{api_store_dir}",
        falkordb_graph="api",
        api_keys=f"{API_KEY}, other-key",
        events_max_batch=50,
        events_max_body_bytes=20_000,
        rate_limit_per_s=1_000,
        rate_limit_burst=1_000,
        events_max_per_minute=1_000,
        # Reads of a cold Neo4j on a busy 2-core CI box can take longer than the production default;
        # these tests are about answers, the timeout has its own tests.
        history_timeout_s=10.0,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), headers={"X-API-Key": API_KEY}) as c:
        services_of(c.app).store.clear()
        yield c


@pytest.fixture
def services(client: TestClient) -> Services:
    """The running app's services (its store, holders, readers), as its routes get them."""
    return services_of(client.app)


@pytest.fixture
def api_store(services: Services) -> GraphStore:
    """The app's own store, for assertions on what was (not) written."""
    return services.store
