"""GraphStore adapter for Neo4j 5.23+ / 2025.x over Bolt (``bolt://``, ``neo4j://``, ``+s``, ``+ssc``).

Practices (Neo4j driver manual): one driver per store, closed by ``close()``; ``execute_query``
with ``database_=`` always and ``routing_=READ`` for reads; the multi-statement writes (a
ledger-guarded batch, the exactly-once event write) are ``execute_write`` transaction functions
that are safe to run twice; ``UNWIND $rows`` in fixed-size batches; every statement is a field of
``graphrec.graph.cypher.neo4j.NEO4J``. Shared behaviour lives in :class:`~graphrec.graph.base_store.CypherStore`.

Storage: seen events are ``(:EventId {key, user, fp, at})`` nodes, one per event, ``key`` unique;
``fp`` is the event's content fingerprint (absent on records written before fingerprints).
Unguarded ``upsert_interactions`` batches are additive: if a commit succeeds but its
acknowledgement is lost, the driver's retry applies the batch again. Imports that must apply each
batch exactly once pass a :class:`~graphrec.graph.records.BatchGuard`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from neo4j import (
    READ_ACCESS,
    Driver,
    GraphDatabase,
    ManagedTransaction,
    NotificationDisabledClassification,
    RoutingControl,
    Session,
)
from neo4j.exceptions import (
    AuthError,
    ClientError,
    ConnectionPoolError,
    ConstraintError,
    DriverError,
    Forbidden,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graphrec.config import parse_graph_uri
from graphrec.graph.base_store import CypherStore, Rows
from graphrec.graph.cypher.dialect import NEO4J as NEO4J_DIALECT
from graphrec.graph.cypher.neo4j import (
    ITEM_VECTOR_INDEX,
    NEO4J,
    USER_VECTOR_INDEX,
    Neo4jStatements,
    schema_statements,
    trusted_cypher,
)
from graphrec.graph.cypher_values import plain
from graphrec.graph.errors import (
    BadStoreInput,
    NotFoundInStore,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    translating,
)
from graphrec.graph.neo4j_gds import GdsClient
from graphrec.graph.port import EventKey, EventWriteResult
from graphrec.graph.records import BatchGuard, CypherResult, InteractionDelta, NodeLabel
from graphrec.graph.rows import rows_by_user
from graphrec.graph.threaded_reads import ThreadedHistoryReader

if TYPE_CHECKING:
    from graphrec.graph.neo4j_console import Neo4jConsole

logger = logging.getLogger(__name__)

_INDEX_TIMEOUT_S = 300
_CLEAR_ATTEMPTS = 3

# "Cannot reach Neo4j now": no server, a lost connection, a full pool, or a transient failure
# (deadlock, leader switch) that outlived the driver's own retries.
TRANSIENT: tuple[type[BaseException], ...] = (ServiceUnavailable, SessionExpired, TransientError, ConnectionPoolError)
# Neo4j's status codes for "no such thing" (https://neo4j.com/docs/status-codes/current/errors/).
_NOT_FOUND = frozenset(
    {
        "Neo.ClientError.Database.DatabaseNotFound",
        "Neo.ClientError.Procedure.ProcedureNotFound",
        "Neo.ClientError.Schema.IndexNotFound",
        "Neo.ClientError.Schema.ConstraintNotFound",
    }
)


def classify(exc: BaseException) -> type[StoreError] | None:
    """Neo4j's errors as store errors, by driver class and status code."""
    if isinstance(exc, TRANSIENT):
        return StoreUnavailable
    if isinstance(exc, ConstraintError):  # Neo.ClientError.Schema.ConstraintValidationFailed
        return StoreConflict
    if isinstance(exc, AuthError | Forbidden):  # a configuration problem, not the caller's input
        return None
    if isinstance(exc, ClientError):
        return NotFoundInStore if exc.code in _NOT_FOUND else BadStoreInput
    return None


@translating(classify, "Neo4j")
class Neo4jStore(CypherStore):
    """Neo4j implementation of :class:`graphrec.graph.port.GraphStore`."""

    _q: ClassVar[Neo4jStatements] = NEO4J
    _dialect = NEO4J_DIALECT

    def __init__(self, driver: Driver, *, database: str = "neo4j", batch_size: int = 10_000) -> None:
        super().__init__(batch_size=batch_size)
        self._driver = driver
        self._db = database

    @classmethod
    def connect(
        cls,
        uri: str,
        user: str = "neo4j",
        password: str | None = None,
        *,
        database: str = "neo4j",
        batch_size: int = 10_000,
        **driver_config: Any,
    ) -> Neo4jStore:
        """Open one driver for ``uri`` (connections are made lazily; ``ping()`` checks them)."""
        if parse_graph_uri(uri).kind != "neo4j":
            raise ValueError(f"not a Neo4j URI: {uri!r}")
        auth = (user, password) if password is not None else None
        # Optional properties (a ledger's `complete`, per-type counts) are absent until first written;
        # Neo4j warns "property key does not exist" on every such read of a fresh graph. Those are
        # expected here, so that one class of notification is not asked for (deprecations still are).
        driver_config.setdefault(
            "notifications_disabled_classifications", [NotificationDisabledClassification.UNRECOGNIZED]
        )
        driver = GraphDatabase.driver(uri, auth=auth, **driver_config)
        return cls(driver, database=database, batch_size=batch_size)

    # -- plumbing --------------------------------------------------------------------------------
    def _read(self, query: str, params: Mapping[str, Any] | None = None) -> Rows:
        result = self._driver.execute_query(query, dict(params or {}), routing_=RoutingControl.READ, database_=self._db)
        return list(result.records)

    def _write(self, query: str, params: Mapping[str, Any] | None = None) -> Rows:
        result = self._driver.execute_query(
            query, dict(params or {}), routing_=RoutingControl.WRITE, database_=self._db
        )
        return list(result.records)

    def _session(self, **config: Any) -> Session:
        # Share execute_query's bookmark manager so reads see writes made through sessions.
        return self._driver.session(
            database=self._db, bookmark_manager=self._driver.execute_query_bookmark_manager, **config
        )

    def run_cypher(self, query: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> CypherResult:
        """Read-only unless ``write``: a read transaction, which Neo4j refuses to let write."""

        def work(tx: ManagedTransaction) -> CypherResult:
            result = tx.run(trusted_cypher(query), dict(params or {}))
            keys = list(result.keys())
            return CypherResult(keys, [[plain(v) for v in record.values()] for record in result])

        with self._session() as session:
            return session.execute_write(work) if write else session.execute_read(work)

    def cypher_console(self, *, write: bool = False) -> Neo4jConsole:
        """An analyst's session on this store's database (no retries: it fails at once when Neo4j is down)."""
        from graphrec.graph.neo4j_console import Neo4jConsole

        return Neo4jConsole(self._driver, self._db, write=write)

    def gds(self) -> GdsClient | None:
        """The Graph Data Science procedures of this database, or None where GDS is not installed."""
        client = GdsClient(self._driver, self._db)
        try:
            return client if client.available() else None
        except ClientError:
            return None

    def history_reader(self, *, concurrency: int = 100) -> ThreadedHistoryReader:
        """Reads on threads: this adapter is built on the synchronous driver. More concurrent reads
        than its threads queue for one (the driver's pool is not the limit)."""
        return ThreadedHistoryReader(self)

    # -- transactions ----------------------------------------------------------------------------
    def _upsert_params(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """UPSERT_INTERACTIONS takes a batch's rows per user: it reads each user's edges once."""
        return {"users": rows_by_user(rows)}

    def _upsert_guarded(self, rows: list[dict[str, Any]], guard: BatchGuard) -> int:
        batches = list(self._batches(rows))
        claim = {"key": guard.key, "seq": int(guard.seq)}

        def apply_guarded(tx: ManagedTransaction) -> int:
            # Ledger claim and every chunk commit together. If the driver re-runs this function
            # after a commit it could not confirm, the claim finds next_seq already advanced and
            # nothing is applied twice.
            if tx.run(self._q.CLAIM_LEDGER_BATCH, claim).single() is None:
                return 0
            written = 0
            for batch in batches:
                record = tx.run(self._q.UPSERT_INTERACTIONS, self._upsert_params(batch)).single()
                written += int(record[0]) if record is not None else 0
            return written

        with self._session() as session:
            return int(session.execute_write(apply_guarded))

    def _write_once(
        self, deltas: Sequence[InteractionDelta], events: Sequence[EventKey], now_ms: int
    ) -> EventWriteResult:
        # Sorted keys and rows: concurrent batches take their locks in one order (fewer deadlocks,
        # which the driver retries, between group commits that share users or event keys).
        keys = [{"k": e.key, "u": e.user_id, "f": e.fingerprint} for e in sorted(events, key=lambda e: e.key)]
        users = sorted({e.user_id for e in events} | {d.user_id for d in deltas})
        batches = list(self._batches(self._delta_rows(deltas)))
        key_ids = [k["k"] for k in keys]

        def apply_once(tx: ManagedTransaction) -> EventWriteResult:
            # Check and write commit together; a re-run after an unconfirmed commit finds its own
            # keys recorded and writes nothing.
            existing = tx.run(self._q.EXISTING_EVENT_IDS, {"keys": key_ids}).single()
            refused = tx.run(self._q.REFUSING_USERS, {"users": users}).single()
            seen = list(existing[0]) if existing is not None else []
            fps = tuple((str(k), str(f)) for k, f in existing[1]) if existing is not None else ()
            refusing = sorted(refused[0]) if refused is not None else []
            if seen or refusing:
                return EventWriteResult(
                    applied=False, existing=tuple(seen), refused_users=tuple(refusing), fingerprints=fps
                )
            tx.run(self._q.RECORD_EVENT_IDS, {"keys": keys, "now": now_ms}).consume()
            for batch in batches:
                tx.run(self._q.UPSERT_INTERACTIONS, self._upsert_params(batch)).consume()
            return EventWriteResult(applied=True, edges=len(deltas))

        with self._session() as session:
            try:
                return session.execute_write(apply_once)
            except ConstraintError:
                # A concurrent writer recorded one of these keys first (EventId.key is unique):
                # nothing was written; the check now reports the keys it owns.
                return session.execute_write(apply_once)

    # -- schema and vector indexes ---------------------------------------------------------------
    def apply_schema(self) -> None:
        for stmt in schema_statements():
            self._write(stmt)
        self._write(self._q.AWAIT_INDEXES, {"timeout": _INDEX_TIMEOUT_S})
        self._recount_degrees_once()

    def _prepare_vector_index(self, label: NodeLabel, dim: int) -> None:
        """Make the label's vector index exist with ``dim`` dimensions, unquantized (drop + create an
        index that differs: another model width, or a quantized index from before graphrec turned
        quantization off, whose approximate scores reorder neighbours against the API's cosine)."""
        q = self._q
        if label == "Item":
            name, create, drop = ITEM_VECTOR_INDEX, q.CREATE_ITEM_VECTOR_INDEX, q.DROP_ITEM_VECTOR_INDEX
        else:
            name, create, drop = USER_VECTOR_INDEX, q.CREATE_USER_VECTOR_INDEX, q.DROP_USER_VECTOR_INDEX
        rows = self._read(q.VECTOR_INDEX_INFO, {"name": name})
        current = tuple(rows[0]) if rows else None  # (dimensions, state, quantized)
        if current is not None and current[0] == dim and not current[2]:
            if current[1] != "ONLINE":
                self._write(q.AWAIT_INDEX, {"name": name, "timeout": _INDEX_TIMEOUT_S})
            return
        if current is not None:
            logger.info(
                "vector index %s has %s dimensions (quantized: %s); re-creating it with %d, unquantized",
                name,
                current[0],
                current[2],
                dim,
            )
            self._write(drop)  # a new model with another width: rebuild the index
        self._write(create, {"dim": int(dim)})
        self._write(q.AWAIT_INDEX, {"name": name, "timeout": _INDEX_TIMEOUT_S})

    # -- lifecycle -------------------------------------------------------------------------------
    def ping(self) -> bool:
        # One auto-commit read, no retries: a readiness probe must answer fast when Neo4j is down
        # (execute_query would keep retrying for max_transaction_retry_time, 30 s by default).
        try:
            with self._session(default_access_mode=READ_ACCESS) as session:
                record = session.run(self._q.PING).single()
            return record is not None and record[0] == 1
        except (Neo4jError, DriverError, OSError):
            return False

    def clear(self) -> None:
        # CALL ... IN TRANSACTIONS needs an auto-commit transaction, which the driver does not
        # retry; deleting is idempotent, so retry it here.
        for attempt in range(1, _CLEAR_ATTEMPTS + 1):
            try:
                with self._session() as session:
                    session.run(self._q.CLEAR).consume()
                return
            except (Neo4jError, DriverError) as exc:
                if attempt == _CLEAR_ATTEMPTS or not exc.is_retryable():
                    raise
                logger.warning("clear failed (%s); retrying", exc)
                time.sleep(0.5 * attempt)

    def recover(self) -> bool:
        """Nothing to restart (the server is not graphrec's); the driver reconnects by itself."""
        return self.ping()

    def close(self) -> None:
        self._driver.close()
