"""Both adapters report "cannot reach the store" as StoreUnavailable, from every kind of method, fast;
the store's other refusals come as the other store error types, by type, not by message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crash import kill_embedded_server

from graphrec.config import Settings
from graphrec.graph.embedded import EmbeddedServer
from graphrec.graph.errors import BadStoreInput, NotFoundInStore, StoreConflict, StoreUnavailable, is_unavailable
from graphrec.graph.factory import connect
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.graph.port import GraphStore
from graphrec.graph.records import InteractionDelta
from tests.live_api import free_port


@pytest.fixture
def doomed(tmp_path: Path, starts_processes: None) -> Iterator[FalkorDBStore]:
    """An embedded store of its own, whose server the test kills."""
    store = FalkorDBStore.embedded(tmp_path, graph="doomed", die_with_parent=True)
    store.upsert_interactions([InteractionDelta("u", "i", 1.0, 1, 1, 1)])
    yield store
    store.close()
    EmbeddedServer(tmp_path).stop()


def test_falkordb_reads_writes_pages_and_async_reads_raise_store_unavailable(
    doomed: FalkorDBStore, tmp_path: Path
) -> None:
    reader = doomed.history_reader()
    kill_embedded_server(tmp_path)
    with pytest.raises(StoreUnavailable, match="FalkorDB unavailable"):
        doomed.user_exists(user_id="u")
    with pytest.raises(StoreUnavailable):
        doomed.upsert_interactions([InteractionDelta("u", "j", 1.0, 1, 1, 1)])
    with pytest.raises(StoreUnavailable):
        list(doomed.iter_interactions())  # a generator: translated while it is consumed
    with pytest.raises(StoreUnavailable):
        asyncio.run(reader.user_history(user_id="u"))
    assert doomed.ping() is False


def test_recover_restarts_the_dead_embedded_server_with_its_data(doomed: FalkorDBStore, tmp_path: Path) -> None:
    kill_embedded_server(tmp_path)
    assert doomed.recover() is True
    assert doomed.user_exists(user_id="u")  # the write before the crash was replayed from the AOF
    assert doomed.recover() is True  # alive: nothing to do


def test_neo4j_unreachable_is_store_unavailable_not_a_30_s_retry() -> None:
    s = Settings(
        graph_uri=f"bolt://127.0.0.1:{free_port()}",
        graph_password="unused-password",
        store_connect_timeout_s=0.5,
        store_retry_s=0.0,
    )
    store = connect(s, serving=True)
    try:
        with pytest.raises(StoreUnavailable, match="Neo4j unavailable") as info:
            store.user_exists(user_id="u")
        assert is_unavailable(RuntimeError("wrapped")) is False
        wrapped = RuntimeError("outer")
        wrapped.__cause__ = info.value
        assert is_unavailable(wrapped)
        assert store.ping() is False and store.recover() is False
    finally:
        store.close()


def test_a_history_reader_serves_as_many_concurrent_reads_as_it_was_sized_for(store: FalkorDBStore) -> None:
    # redis-py's asyncio pool refuses the 101st concurrent connection (MaxConnectionsError), which
    # used to degrade recommendations silently under load; the API sizes it to its concurrency limit.
    store.upsert_interactions([InteractionDelta("u", "i", 1.0, 1, 1, 1)])

    async def many() -> list[int]:
        reader = store.history_reader(concurrency=150)
        try:
            got = await asyncio.gather(*(reader.user_history(user_id="u") for _ in range(150)))
        finally:
            await reader.aclose()
        return [len(h) for h in got]

    assert asyncio.run(many()) == [1] * 150


def test_a_refused_statement_is_bad_input_with_the_stores_message(any_store: GraphStore) -> None:
    with pytest.raises(BadStoreInput) as info:
        any_store.run_cypher("MATCH (n RETURN n")
    assert isinstance(info.value, ValueError) and isinstance(info.value.__cause__, Exception)
    assert str(info.value).startswith(("Neo4j: ", "FalkorDB: ")) and len(str(info.value)) > len("FalkorDB: ")


def test_neo4j_conflicts_and_missing_databases_are_typed(neo4j_store: Neo4jStore, neo4j_server: Any) -> None:
    create = "CREATE (:User {id: $id})"
    neo4j_store.run_cypher(create, {"id": "dup"}, write=True)
    with pytest.raises(StoreConflict):  # the uniqueness constraint on User.id
        neo4j_store.run_cypher(create, {"id": "dup"}, write=True)
    elsewhere = Neo4jStore.connect(neo4j_server.uri, neo4j_server.user, neo4j_server.password, database="nosuchdb")
    try:
        with pytest.raises(NotFoundInStore):
            elsewhere.user_exists(user_id="u")
    finally:
        elsewhere.close()
