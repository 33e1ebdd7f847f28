"""``graphrec cypher`` on FalkorDB: an analyst's statements, their plans and what FalkorDB cannot do.

Why apart from the adapter: the adapter runs graphrec's own statements; this runs the analyst's, and
adds what cypher-shell gives on Neo4j as far as FalkorDB allows: ``EXPLAIN``/``PROFILE`` through
``GRAPH.EXPLAIN``/``GRAPH.PROFILE`` (sent as a query, FalkorDB ignores the keyword and just runs it),
warnings for labels, types and keys the graph has never had (FalkorDB has no notifications), a clear
error on a graph that does not exist yet instead of an empty answer, and ``:use`` as a switch to
another graph on the server. FalkorDB has no multi-statement transactions (each query commits on
its own), so ``begin`` is refused: statements meant to roll back together must not commit one by one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from falkordb import FalkorDB
from redis.exceptions import ResponseError

from graphrec.graph.cypher.falkordb import FALKORDB
from graphrec.graph.cypher.names import statement_names
from graphrec.graph.cypher.script import plan_prefix
from graphrec.graph.cypher_values import plain
from graphrec.graph.errors import BadStoreInput, GraphNotCreated, translating
from graphrec.graph.falkordb_connection import classify
from graphrec.graph.falkordb_params import params_header
from graphrec.graph.records import CypherResult, Notification

# Plan operators that change the graph (or may: a procedure), which GRAPH.PROFILE would run for real.
_WRITING_OPERATORS = frozenset({"Create", "Delete", "Update", "Merge", "MergeCreate", "Foreach", "ProcedureCall"})
_COUNTERS = (
    ("labels added", "labels_added"),
    ("nodes created", "nodes_created"),
    ("nodes deleted", "nodes_deleted"),
    ("properties set", "properties_set"),
    ("properties removed", "properties_removed"),
    ("relationships created", "relationships_created"),
    ("relationships deleted", "relationships_deleted"),
    ("indexes created", "indices_created"),
    ("indexes deleted", "indices_deleted"),
)
NO_TRANSACTIONS = (
    "FalkorDB has no multi-statement transactions: each statement commits on its own, so :begin, "
    ":commit and :rollback cannot be honoured (on Neo4j they are)"
)


@translating(classify, "FalkorDB")
class FalkorDBConsole:
    """:class:`graphrec.graph.port.CypherConsole` on one FalkorDB server (embedded or remote)."""

    def __init__(self, db: FalkorDB, graph: str, *, write: bool) -> None:
        self._db = db
        self._graph = graph
        self._write = write

    @property
    def target(self) -> str:
        return self._graph

    @property
    def in_transaction(self) -> bool:
        return False

    def run_cypher(self, statement: str, params: Mapping[str, Any]) -> CypherResult:
        """The analyst's statement, with its values bound in the parameter header (never in the text)."""
        mode, body = plan_prefix(statement)
        command = params_header(params) + body
        try:
            if mode is None:
                graph = self._db.select_graph(self._graph)
                result = (graph.query if self._write else graph.ro_query)(command)
                columns = [str(h[1]) for h in (result.header or [])]
                rows = [[plain(v) for v in row] for row in result.result_set]
                counters = tuple((name, n) for name, attr in _COUNTERS if (n := int(getattr(result, attr) or 0)))
                return CypherResult(columns, rows, self._notifications(statement), counters=counters)
            if mode == "PROFILE" and not self._write:
                self._refuse_profiled_writes(command)
            lines = self._db.connection.execute_command(f"GRAPH.{mode}", self._graph, command)
            plan = tuple(str(x.decode() if isinstance(x, bytes) else x) for x in lines)
            return CypherResult([], [], self._notifications(statement), plan=plan)
        except ResponseError:
            if not self._db.connection.exists(self._graph):
                raise GraphNotCreated(
                    f"graph {self._graph!r} does not exist yet on this FalkorDB server (nothing was written to it)"
                ) from None
            raise

    def _refuse_profiled_writes(self, command: str) -> None:
        """GRAPH.PROFILE runs the statement with write access (it has no read-only form): read-only, a
        statement whose plan can write is refused before anything runs."""
        plan = self._db.connection.execute_command("GRAPH.EXPLAIN", self._graph, command)
        ops = {str(x.decode() if isinstance(x, bytes) else x).strip().split(" |")[0] for x in plan}
        writing = sorted(ops & _WRITING_OPERATORS)
        if writing:
            raise BadStoreInput(
                f"PROFILE on FalkorDB runs the statement with write access, and this plan has "
                f"{', '.join(writing)}: add --write to profile it, or use EXPLAIN (read-only)"
            )

    def _notifications(self, statement: str) -> tuple[Notification, ...]:
        """Warnings for the labels, relationship types and property keys ``statement`` names that the
        graph has never had (Neo4j's "unknown label" notifications; FalkorDB gives none)."""
        names = statement_names(statement)
        if not (names.labels or names.types or names.keys):
            return ()
        known: dict[str, set[str]] = {"label": set(), "type": set(), "key": set()}
        for kind, name in self._db.select_graph(self._graph).ro_query(FALKORDB.SCHEMA_NAMES).result_set:
            known[str(kind)].add(str(name))
        out: list[Notification] = []
        for kind, wanted, what in (
            ("label", names.labels, "no node has the label"),
            ("type", names.types, "no relationship has the type"),
            ("key", names.keys, "no node or relationship has the property key"),
        ):
            for name in sorted(wanted - known[kind]):
                close = difflib.get_close_matches(name, sorted(known[kind]), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                out.append(
                    Notification("WARNING", f"unknown {kind} {name}: {what} {name} in graph {self._graph!r}{hint}")
                )
        return tuple(out)

    def begin(self) -> None:
        raise BadStoreInput(NO_TRANSACTIONS)

    def commit(self) -> None:
        raise BadStoreInput(NO_TRANSACTIONS)

    def rollback(self) -> None:
        raise BadStoreInput(NO_TRANSACTIONS)

    def use(self, name: str) -> None:
        """Run the next statements on graph ``name`` of the same server (it need not exist yet)."""
        if not name.strip():
            raise BadStoreInput(":use needs a graph name")
        self._graph = name.strip()

    def close(self) -> None:
        """Nothing of its own to close: the store's connection is the store's."""
