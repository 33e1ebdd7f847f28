"""The store a benchmark runs on: ``--store falkordb`` (embedded, the default) or ``--store neo4j``.

Neo4j here is the test harness (``tests/neo4j_harness``: in-process Neo4j 5.26 + GDS in a JVM with
a 2 GiB heap and a 256 MiB page cache, started and stopped by the benchmark), not a tuned server:
its figures say what this code does against a real Neo4j on the same machine, not what a
production Neo4j could do. Each store's ``raw`` baseline runs on that same server in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.neo4j_store import Neo4jStore
from graphrec.graph.port import GraphStore

STORES = ("falkordb", "neo4j")
RAW_INDEXES = {
    "falkordb": ("CREATE INDEX FOR (u:RawUser) ON (u.id)", "CREATE INDEX FOR (i:RawItem) ON (i.id)"),
    "neo4j": (
        "CREATE INDEX raw_user IF NOT EXISTS FOR (u:RawUser) ON (u.id)",
        "CREATE INDEX raw_item IF NOT EXISTS FOR (i:RawItem) ON (i.id)",
    ),
}
RAW_CLEANUP_NEO4J = "MATCH (n) WHERE n:RawUser OR n:RawItem CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS"
RAW_DROP_INDEXES_NEO4J = ("DROP INDEX raw_user IF EXISTS", "DROP INDEX raw_item IF EXISTS")
_TESTS = Path(__file__).resolve().parents[1] / "tests"


def add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        choices=(*STORES, "both"),
        default="falkordb",
        help="falkordb (embedded), neo4j (the test harness) or both, one after the other",
    )


def chosen(store_arg: str) -> tuple[str, ...]:
    return STORES if store_arg == "both" else (store_arg,)


def print_results(results: list[dict[str, Any]]) -> None:
    """One JSON object for one store, a list for ``--store both``."""
    print(json.dumps(results if len(results) > 1 else results[0], indent=2))


@dataclass
class BenchStore:
    """An open store plus what a benchmark needs beside it."""

    kind: str
    store: GraphStore
    env: dict[str, str]  # GRAPHREC_* variables pointing a subprocess (the API) at the same store
    server_pid: int | None  # the store's server process, for CPU accounting
    description: str
    _extra: list[Any] = field(default_factory=list)

    def raw(self, query: str, params: dict[str, Any] | None = None) -> list[Any]:
        """A bench-only statement: on FalkorDB in a scratch graph, on Neo4j in the one database
        (callers use their own labels there and clean up with :meth:`raw_cleanup`)."""
        if isinstance(self.store, FalkorDBStore):
            graph = self.store._db.select_graph("bench_raw")  # noqa: SLF001 - bench-only graph
            return list(graph.query(query, params or {}).result_set)
        assert isinstance(self.store, Neo4jStore)
        records = self.store._driver.execute_query(query, params or {}, database_="neo4j").records  # noqa: SLF001
        return [list(r.values()) for r in records]

    def raw_indexes(self) -> None:
        """Range indexes on ``RawUser.id`` / ``RawItem.id`` (the raw baselines' labels)."""
        for stmt in RAW_INDEXES[self.kind]:
            self.raw(stmt)
        if self.kind == "neo4j":
            self.raw("CALL db.awaitIndexes(300)")

    def raw_cleanup(self) -> None:
        """Remove what the raw baseline wrote (``RawUser``/``RawItem`` nodes and their indexes)."""
        if isinstance(self.store, FalkorDBStore):
            with contextlib.suppress(Exception):
                self.store._db.select_graph("bench_raw").delete()  # noqa: SLF001
            return
        assert isinstance(self.store, Neo4jStore)
        with self.store._driver.session(database="neo4j") as session:  # noqa: SLF001
            session.run(RAW_CLEANUP_NEO4J).consume()  # IN TRANSACTIONS needs an auto-commit transaction
        for stmt in RAW_DROP_INDEXES_NEO4J:
            self.raw(stmt)


@contextlib.contextmanager
def bench_store(kind: str, workdir: Path, *, batch_size: int = 10_000, graph: str = "graphrec") -> Iterator[BenchStore]:
    """Start (and afterwards stop) the named store with an empty, schema'd graph."""
    if kind == "falkordb":
        store = FalkorDBStore.embedded(workdir / "store", graph=graph, batch_size=batch_size, die_with_parent=True)
        try:
            store.apply_schema()
            info = workdir / "store" / "server.json"
            pid = int(json.loads(info.read_text())["pid"]) if info.exists() else None
            yield BenchStore(
                kind,
                store,
                {"GRAPHREC_GRAPH_URI": f"embedded:{workdir / 'store'}", "GRAPHREC_FALKORDB_GRAPH": graph},
                pid,
                "embedded FalkorDB (redis-server + module, unix socket, AOF fsync always)",
            )
        finally:
            store.close()
        return
    if kind != "neo4j":
        raise SystemExit(f"--store must be one of {', '.join(STORES)}")
    sys.path.insert(0, str(_TESTS))
    from neo4j_harness import USER, Neo4jHarness

    with Neo4jHarness() as harness:
        store = Neo4jStore.connect(harness.uri, USER, harness.password, batch_size=batch_size)
        try:
            store.clear()
            store.apply_schema()
            yield BenchStore(
                kind,
                store,
                {
                    "GRAPHREC_GRAPH_URI": harness.uri,
                    "GRAPHREC_GRAPH_USER": USER,
                    "GRAPHREC_GRAPH_PASSWORD": harness.password,
                },
                harness.pid,
                "Neo4j 5.26 test harness (in-process JVM, 2 GiB heap, 256 MiB page cache; not a tuned server)",
            )
        finally:
            store.close()
