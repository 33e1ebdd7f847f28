"""``graphrec cypher`` on Neo4j: a session as cypher-shell holds one.

Why apart from the adapter: the adapter's statements run as retried transaction functions (a write
that lost a leader switch is run again); an analyst's statement must run exactly as typed, once, in
the transaction the analyst opened with ``:begin`` (or on its own), and fail at once when the server
cannot be reached instead of retrying for half a minute. The session asks for every notification
(the store's driver turns "unrecognized" ones off for graphrec's own reads, but an unknown label is
exactly what an analyst needs to hear about) and reads the plan of ``EXPLAIN``/``PROFILE`` from the
result summary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from neo4j import READ_ACCESS, WRITE_ACCESS, Driver, ResultSummary, Session, Transaction
from neo4j.exceptions import DriverError, Neo4jError

from graphrec.graph.cypher.neo4j import trusted_cypher
from graphrec.graph.cypher_values import plain
from graphrec.graph.errors import BadStoreInput, translating
from graphrec.graph.neo4j_store import classify
from graphrec.graph.records import CypherResult, Notification

_COUNTERS = (
    ("labels added", "labels_added"),
    ("labels removed", "labels_removed"),
    ("nodes created", "nodes_created"),
    ("nodes deleted", "nodes_deleted"),
    ("properties set", "properties_set"),
    ("relationships created", "relationships_created"),
    ("relationships deleted", "relationships_deleted"),
    ("indexes added", "indexes_added"),
    ("indexes removed", "indexes_removed"),
    ("constraints added", "constraints_added"),
    ("constraints removed", "constraints_removed"),
)


def plan_lines(plan: Mapping[str, Any] | None, depth: int = 0) -> list[str]:
    """A summary's plan or profile as one line per operator, children indented under their parent."""
    if not plan:
        return []
    args = plan.get("args") or {}  # the summary's raw plan (Bolt metadata)
    parts = [str(plan.get("operatorType", "?")).split("@")[0]]
    if args.get("Details"):
        parts.append(str(args["Details"]))
    if "EstimatedRows" in args:
        parts.append(f"estimated rows {float(args['EstimatedRows']):g}")
    if "rows" in plan or "dbHits" in plan:
        parts.append(f"rows {plan.get('rows', 0)}, db hits {plan.get('dbHits', 0)}")
    lines = ["    " * depth + " | ".join(parts)]
    for child in plan.get("children") or []:
        lines += plan_lines(child, depth + 1)
    return lines


def notifications(summary: ResultSummary) -> tuple[Notification, ...]:
    """The summary's notifications (GQL status objects that are notifications), with where they point."""
    out: list[Notification] = []
    for status in summary.gql_status_objects:
        if not status.is_notification:
            continue
        where = f" (line {status.position.line}, column {status.position.column})" if status.position else ""
        out.append(Notification(str(status.severity.value), status.status_description + where, status.gql_status))
    return tuple(out)


@translating(classify, "Neo4j")
class Neo4jConsole:
    """:class:`graphrec.graph.port.CypherConsole` on one Neo4j database (``use`` switches it)."""

    def __init__(self, driver: Driver, database: str, *, write: bool) -> None:
        self._driver = driver
        self._db = database
        self._write = write
        self._session: Session | None = None
        self._tx: Transaction | None = None

    @property
    def target(self) -> str:
        return self._db

    @property
    def in_transaction(self) -> bool:
        return self._tx is not None

    def _open(self) -> Session:
        if self._session is None:
            self._session = self._driver.session(
                database=self._db,
                default_access_mode=WRITE_ACCESS if self._write else READ_ACCESS,  # the server refuses writes
                bookmark_manager=self._driver.execute_query_bookmark_manager,
                notifications_disabled_classifications=[],  # every notification, unknown names included
                notifications_min_severity="INFORMATION",
            )
        return self._session

    def run_cypher(self, statement: str, params: Mapping[str, Any]) -> CypherResult:
        """One run, no retry: in the open transaction, or an auto-commit transaction of its own (which
        ``CALL { ... } IN TRANSACTIONS`` needs). A failure inside a transaction rolls it back."""
        runner = self._tx if self._tx is not None else self._open()
        try:
            result = runner.run(trusted_cypher(statement), dict(params))
            columns = list(result.keys())
            rows = [[plain(v) for v in record.values()] for record in result]
            summary = result.consume()
        except Exception:
            if self._tx is not None:  # the server has failed it; nothing of it commits
                self._end_transaction(commit=False)
            raise
        counters = tuple((name, n) for name, attr in _COUNTERS if (n := int(getattr(summary.counters, attr, 0) or 0)))
        plan = plan_lines(summary.profile or summary.plan)
        return CypherResult(columns, rows, notifications(summary), plan=tuple(plan), counters=counters)

    def begin(self) -> None:
        if self._tx is not None:
            raise BadStoreInput("a transaction is already open: :commit or :rollback it first")
        self._tx = self._open().begin_transaction()

    def commit(self) -> None:
        if self._tx is None:
            raise BadStoreInput("no open transaction to commit (:begin opens one)")
        self._end_transaction(commit=True)

    def rollback(self) -> None:
        if self._tx is None:
            raise BadStoreInput("no open transaction to roll back (:begin opens one)")
        self._end_transaction(commit=False)

    def _end_transaction(self, *, commit: bool) -> None:
        tx, self._tx = self._tx, None
        assert tx is not None
        try:
            if commit:
                tx.commit()
            else:
                tx.rollback()
        finally:
            tx.close()

    def use(self, name: str) -> None:
        """Run the next statements on database ``name`` (refused inside a transaction, as cypher-shell does)."""
        if self._tx is not None:
            raise BadStoreInput("cannot :use another database inside a transaction: :commit or :rollback first")
        if not name.strip():
            raise BadStoreInput(":use needs a database name")
        self._close_session()
        self._db = name.strip()

    def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def close(self) -> None:
        """Roll back an open transaction (nothing the analyst did not commit is kept), end the session.
        A server gone meanwhile has dropped the transaction itself: that is not a second failure."""
        try:
            if self._tx is not None:
                with contextlib.suppress(Neo4jError, DriverError, OSError):
                    self._end_transaction(commit=False)
        finally:
            with contextlib.suppress(Neo4jError, DriverError, OSError):
                self._close_session()
