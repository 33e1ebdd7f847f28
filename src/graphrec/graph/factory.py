"""Open the GraphStore named by ``Settings.graph_uri`` (one per process, closed on exit)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from graphrec.config import Settings
from graphrec.graph.embedded import EmbeddedServer
from graphrec.graph.port import GraphStore
from graphrec.graph.start_budget import StartBudget


def start_budget(settings: Settings) -> StartBudget:
    """How long the embedded server may take to answer when it (re)starts, from the settings."""
    return StartBudget(base_s=settings.embedded_start_s, replay_s_per_mb=settings.embedded_replay_s_per_mb)


def embedded_server(settings: Settings) -> EmbeddedServer:
    """The embedded server of the configured data directory (``graphrec store start|stop|status``)."""
    return EmbeddedServer(settings.embedded_dir, start_budget=start_budget(settings))


def connect(settings: Settings, *, die_with_parent: bool = False, serving: bool = False) -> GraphStore:
    """Build the adapter for the configured URI; the caller must ``close()`` it.

    ``serving``: the API's store, whose commands give up after ``store_timeout_s`` and whose Neo4j
    driver retries for ``store_retry_s`` only, so an outage answers 503 quickly instead of holding
    requests; batch jobs (import, export, training) keep waiting as long as the store needs (the
    driver retries a failed transaction for ``store_job_retry_s``).
    """
    where = settings.graph_location
    timeout = settings.store_timeout_s if serving else None
    password = settings.graph_password.get_secret_value() if settings.graph_password else None
    if where.kind == "embedded":
        from graphrec.graph.falkordb_store import FalkorDBStore

        return FalkorDBStore.embedded(
            settings.embedded_dir,
            graph=settings.falkordb_graph,
            batch_size=settings.batch_size,
            die_with_parent=die_with_parent,
            timeout_s=timeout,
            connect_timeout_s=settings.store_connect_timeout_s,
            start_budget=start_budget(settings),
        )
    if where.kind == "falkordb":
        from graphrec.graph.falkordb_store import FalkorDBStore

        assert where.host is not None and where.port is not None
        return FalkorDBStore.remote(
            where.host,
            where.port,
            password=where.password or password,
            graph=settings.falkordb_graph,
            batch_size=settings.batch_size,
            ssl=where.tls,
            timeout_s=timeout,
            connect_timeout_s=settings.store_connect_timeout_s,
        )
    from graphrec.graph.neo4j_store import Neo4jStore

    driver_config: dict[str, float] = {"connection_timeout": settings.store_connect_timeout_s}
    if serving:
        driver_config.update(
            max_transaction_retry_time=settings.store_retry_s, connection_acquisition_timeout=settings.store_timeout_s
        )
    else:
        driver_config.update(max_transaction_retry_time=settings.store_job_retry_s)
    return Neo4jStore.connect(
        where.uri,
        settings.graph_user,
        password,
        database=settings.graph_database,
        batch_size=settings.batch_size,
        **driver_config,
    )


@contextlib.contextmanager
def open_store(settings: Settings) -> Iterator[GraphStore]:
    """``with open_store(settings) as store:`` — the store is closed (and an idle embedded server
    stopped) however the block exits."""
    store = connect(settings)
    try:
        yield store
    finally:
        store.close()
