"""The test-time Neo4j itself, and what only a real Neo4j can show.

- ``graph/schema.cypher``, run as an analyst would (statement by statement through Bolt), twice:
  idempotent, and it leaves the constraints and indexes the adapter relies on, vector indexes ONLINE;
- GDS is installed (the analyst queries and the GDS baseline need it);
- the launcher dies with its parent, even one killed with SIGKILL (no orphan JVMs);
- a statement broken in the Neo4j dialect alone fails a contract operation, not only the lint.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from neo4j import GraphDatabase
from neo4j.exceptions import Neo4jError
from neo4j_harness import HERE, wait_gone
from store_reads import nearest

from graphrec.graph.cypher.neo4j import NEO4J
from graphrec.graph.cypher.script import split_cypher_script
from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.graph.records import ItemRecord

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "graph" / "schema.cypher"


def _driver(server):  # type: ignore[no-untyped-def]
    return GraphDatabase.driver(server.uri, auth=(server.user, server.password))


def test_schema_script_runs_twice_and_leaves_the_expected_schema(neo4j_server, neo4j_store) -> None:  # type: ignore[no-untyped-def]
    statements = [stmt for _, stmt in split_cypher_script(SCHEMA.read_text(encoding="utf-8"))]
    assert len(statements) >= 10
    with _driver(neo4j_server) as driver:
        for _ in range(2):  # IF NOT EXISTS everywhere: the second run changes nothing
            for stmt in statements:
                driver.execute_query(stmt, database_=neo4j_server.database)
        driver.execute_query("CALL db.awaitIndexes(300)", database_=neo4j_server.database)
        constraints = {
            r["name"]
            for r in driver.execute_query("SHOW CONSTRAINTS YIELD name", database_=neo4j_server.database).records
        }
        shown = driver.execute_query(
            "SHOW INDEXES YIELD name, type, state, options", database_=neo4j_server.database
        ).records
        indexes = {r["name"]: (r["type"], r["state"]) for r in shown}
        vector_config = {r["name"]: r["options"]["indexConfig"] for r in shown if r["type"] == "VECTOR"}
    assert constraints >= {
        "user_id",
        "item_id",
        "category_name",
        "ledger_key",
        "meta_key",
        "event_id_key",
        "segment_name",
    }
    assert indexes["item_embedding"] == ("VECTOR", "ONLINE")
    assert indexes["user_embedding"] == ("VECTOR", "ONLINE")
    for config in vector_config.values():  # exact vectors: the index ranks as the API does
        assert config["vector.similarity_function"] == "COSINE" and config["vector.quantization.enabled"] is False
    assert indexes["interacted_last_ts"][1] == "ONLINE" and indexes["event_id_user"][1] == "ONLINE"
    # the uniqueness constraint is real: a second node with the same id is refused
    with _driver(neo4j_server) as driver:
        driver.execute_query("CREATE (:User {id: $id})", id="dup", database_=neo4j_server.database)
        with pytest.raises(Neo4jError, match="already exists"):
            driver.execute_query("CREATE (:User {id: $id})", id="dup", database_=neo4j_server.database)


def test_publishing_replaces_a_quantized_vector_index(neo4j_server, neo4j_store: Neo4jStore) -> None:  # type: ignore[no-untyped-def]
    """An index made before quantization was turned off (or by hand) is rebuilt exact on the next publish."""
    import numpy as np

    with _driver(neo4j_server) as driver:
        driver.execute_query("DROP INDEX item_embedding IF EXISTS", database_=neo4j_server.database)
        driver.execute_query(
            "CREATE VECTOR INDEX item_embedding FOR (i:Item) ON i.embedding OPTIONS {indexConfig: "
            "{`vector.dimensions`: 4, `vector.similarity_function`: 'cosine'}}",
            database_=neo4j_server.database,
        )
        driver.execute_query("CALL db.awaitIndexes(300)", database_=neo4j_server.database)

        def quantized() -> bool:
            (r,) = driver.execute_query(
                "SHOW VECTOR INDEXES YIELD name, options WHERE name = 'item_embedding' "
                "RETURN options.indexConfig['vector.quantization.enabled'] AS q",
                database_=neo4j_server.database,
            ).records
            return bool(r["q"])

        assert quantized(), "Neo4j quantizes by default"
        neo4j_store.upsert_items([ItemRecord("a"), ItemRecord("b")])
        neo4j_store.write_embeddings(
            label="Item", ids=["a", "b"], vectors=np.eye(2, 4, dtype=np.float32), model_version="v1"
        )
        assert not quantized()
    assert nearest(neo4j_store, "Item", np.eye(1, 4, 1, dtype=np.float32)[0], k=1)[0][0] == "b"


def test_graph_data_science_is_installed(neo4j_server) -> None:  # type: ignore[no-untyped-def]
    with _driver(neo4j_server) as driver:
        version = driver.execute_query("RETURN gds.version() AS v", database_=neo4j_server.database).records[0]["v"]
        procs = {
            r["name"]
            for r in driver.execute_query(
                "SHOW PROCEDURES YIELD name WHERE name STARTS WITH 'gds.' RETURN name", database_=neo4j_server.database
            ).records
        }
    assert version.startswith("2.13.")
    assert {"gds.fastRP.stream", "gds.knn.stream", "gds.louvain.stream", "gds.graph.project"} <= procs


def test_a_second_start_needs_no_maven(neo4j_server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Once resolved, the classpath comes from the cache: no mvn (hence no network) is needed."""
    from neo4j_harness import classpath

    first = classpath()
    java_dir = str(Path(shutil.which("java") or "/usr/bin/java").parent)
    monkeypatch.setenv("PATH", java_dir if not shutil.which("mvn", path=java_dir) else "/nonexistent")
    assert shutil.which("mvn") is None
    assert classpath() == first
    assert all(Path(jar).exists() for jar in first.split(os.pathsep))


@pytest.mark.integration
def test_the_launcher_dies_with_a_parent_killed_by_sigkill(tmp_path: Path) -> None:
    """A parent that starts the harness and is then killed -9 must not leave its JVM behind."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(HERE.parent)!r})
        from neo4j_harness import Neo4jHarness
        h = Neo4jHarness(heap="512m").start()
        print(h.pid, h.uri, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline() if parent.stdout else ""
        pid_text, uri = line.split()
        jvm = int(pid_text)
        assert uri.startswith("bolt://127.0.0.1:")
        os.kill(jvm, 0)  # it is running
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        if parent.stdout:
            parent.stdout.close()
    assert wait_gone(jvm, timeout_s=30), f"JVM {jvm} outlived its parent"


def test_a_statement_broken_in_the_neo4j_dialect_fails_the_contract(
    neo4j_store: Neo4jStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A misspelled property passes the lint (unknown properties are legal Cypher); the contract test
    on the live server catches it."""
    from test_contract import test_user_history_columns_match_the_full_records as contract_test

    contract_test(neo4j_store)  # sound statement: the contract holds
    broken = NEO4J.USER_HISTORY.replace("e.weight", "e.wieght")
    assert broken != NEO4J.USER_HISTORY
    monkeypatch.setattr(Neo4jStore, "_q", dataclasses.replace(NEO4J, USER_HISTORY=broken))
    neo4j_store.clear()
    with pytest.raises(AssertionError):
        contract_test(neo4j_store)
