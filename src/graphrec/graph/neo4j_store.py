"""GraphStore adapter for Neo4j 5.23+ / 2025.x over Bolt (``bolt://``, ``neo4j://``, ``+s``, ``+ssc``).

Practices (Neo4j driver manual): one driver per store, closed by ``close()``; ``execute_query``
with ``database_=`` always and ``routing_=READ`` for reads; the one multi-statement write (a
ledger-guarded batch) is an ``execute_write`` transaction function that is safe to run twice;
``UNWIND $rows`` in fixed-size batches; every statement is a constant in ``neo4j_cypher``.

Semantics mirror :class:`graphrec.graph.falkordb_store.FalkorDBStore`; the shared contract tests
(``tests/graph/test_contract.py``) run against both.

Unguarded ``upsert_interactions`` batches are additive: if a commit succeeds but its
acknowledgement is lost, the driver's retry applies the batch again. Imports that must apply each
batch exactly once pass a :class:`BatchGuard`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, LiteralString, cast

import numpy as np
from neo4j import (
    READ_ACCESS,
    Driver,
    GraphDatabase,
    ManagedTransaction,
    NotificationDisabledClassification,
    Record,
    RoutingControl,
    Session,
)
from neo4j.exceptions import (
    ClientError,
    ConnectionPoolError,
    ConstraintError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from graphrec.graph import neo4j_cypher as q
from graphrec.graph import paging
from graphrec.graph.cypher_values import plain
from graphrec.graph.errors import translating
from graphrec.graph.neo4j_gds import GdsClient
from graphrec.graph.port import EventKey, EventWriteResult, WeightUpdate
from graphrec.graph.records import (
    BatchGuard,
    Candidate,
    CypherResult,
    GraphCounts,
    Interaction,
    InteractionDelta,
    InteractionPage,
    ItemPage,
    ItemRecord,
    NodeLabel,
    UserHistory,
    UserRecord,
)
from graphrec.graph.rows import (
    delta_row,
    history_from_rows,
    interaction_from_props,
    item_row,
    user_from_props,
    user_row,
)
from graphrec.graph.threaded_reads import ThreadedHistoryReader

logger = logging.getLogger(__name__)

SCHEMES: tuple[str, ...] = ("bolt://", "bolt+s://", "bolt+ssc://", "neo4j://", "neo4j+s://", "neo4j+ssc://")

_MS_PER_DAY = 86_400_000
_INDEX_TIMEOUT_S = 300
_EMBEDDING_BATCH = 2_000
_CLEAR_ATTEMPTS = 3

# "Cannot reach Neo4j now": no server, a lost connection, a full pool, or a transient failure
# (deadlock, leader switch) that outlived the driver's own retries.
TRANSIENT: tuple[type[BaseException], ...] = (ServiceUnavailable, SessionExpired, TransientError,
                                              ConnectionPoolError)


@translating(TRANSIENT, "Neo4j")
class Neo4jStore:
    """Neo4j implementation of :class:`graphrec.graph.port.GraphStore`."""

    def __init__(self, driver: Driver, *, database: str = "neo4j", batch_size: int = 10_000) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._driver = driver
        self._db = database
        self._batch = batch_size

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def connect(cls, uri: str, user: str = "neo4j", password: str | None = None, *,
                database: str = "neo4j", batch_size: int = 10_000, **driver_config: Any) -> Neo4jStore:
        """Open one driver for ``uri`` (connections are made lazily; ``ping()`` checks them)."""
        if not uri.startswith(SCHEMES):
            raise ValueError(f"unsupported Neo4j URI {uri!r}; expected one of {', '.join(SCHEMES)}")
        auth = (user, password) if password is not None else None
        # Optional properties (a ledger's `complete`, per-type counts) are absent until first written;
        # Neo4j warns "property key does not exist" on every such read of a fresh graph. Those are
        # expected here, so that one class of notification is not asked for (deprecations still are).
        driver_config.setdefault("notifications_disabled_classifications",
                                 [NotificationDisabledClassification.UNRECOGNIZED])
        driver = GraphDatabase.driver(uri, auth=auth, **driver_config)
        return cls(driver, database=database, batch_size=batch_size)

    # -- plumbing --------------------------------------------------------------------------------
    def _read(self, query: LiteralString, params: Mapping[str, Any] | None = None) -> list[Record]:
        result = self._driver.execute_query(query, dict(params or {}), routing_=RoutingControl.READ,
                                            database_=self._db)
        return list(result.records)

    def _write(self, query: LiteralString, params: Mapping[str, Any] | None = None) -> list[Record]:
        result = self._driver.execute_query(query, dict(params or {}), routing_=RoutingControl.WRITE,
                                            database_=self._db)
        return list(result.records)

    def _session(self, **config: Any) -> Session:
        # Share execute_query's bookmark manager so reads see writes made through sessions.
        return self._driver.session(database=self._db,
                                    bookmark_manager=self._driver.execute_query_bookmark_manager, **config)

    def _batches(self, rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(rows), self._batch):
            yield rows[start : start + self._batch]

    def run_cypher(self, query: str, params: Mapping[str, Any] | None = None, *,
                   write: bool = False) -> CypherResult:
        """An analyst's own statement (``graphrec cypher``), values bound as parameters.

        Read-only unless ``write``: a read transaction, which Neo4j refuses to let write.
        """
        def work(tx: ManagedTransaction) -> CypherResult:
            result = tx.run(cast(LiteralString, query), dict(params or {}))
            keys = list(result.keys())
            return CypherResult(keys, [[plain(v) for v in record.values()] for record in result])

        with self._session() as session:
            return session.execute_write(work) if write else session.execute_read(work)

    def gds(self) -> GdsClient | None:
        """The Graph Data Science procedures of this database, or None where GDS is not installed."""
        client = GdsClient(self._driver, self._db)
        try:
            return client if client.available() else None
        except ClientError:
            return None

    # -- schema ----------------------------------------------------------------------------------
    def apply_schema(self) -> None:
        for stmt in q.schema_statements():
            self._write(stmt)
        self._write(q.AWAIT_INDEXES, {"timeout": _INDEX_TIMEOUT_S})

    # -- writes ----------------------------------------------------------------------------------
    def upsert_users(self, users: Sequence[UserRecord]) -> int:
        rows = [user_row(u) for u in users]
        for batch in self._batches(rows):
            self._write(q.UPSERT_USERS, {"rows": batch})
        return len(rows)

    def upsert_items(self, items: Sequence[ItemRecord]) -> int:
        rows = [item_row(it) for it in items]
        for batch in self._batches(rows):
            self._write(q.UPSERT_ITEMS, {"rows": batch})
        return len(rows)

    def upsert_interactions(self, deltas: Sequence[InteractionDelta], *,
                            guard: BatchGuard | None = None) -> int:
        # A stable (user, item) order makes concurrent batches lock nodes in the same order.
        rows = sorted((delta_row(d) for d in deltas), key=lambda r: (r["u"], r["i"]))
        if guard is None:
            written = 0
            for batch in self._batches(rows):
                records = self._write(q.UPSERT_INTERACTIONS, {"rows": batch})
                written += int(records[0][0]) if records else 0
            return written

        batches = list(self._batches(rows))
        claim = {"key": guard.key, "seq": int(guard.seq)}

        def apply_guarded(tx: ManagedTransaction) -> int:
            # Ledger claim and every chunk commit together. If the driver re-runs this function
            # after a commit it could not confirm, the claim finds next_seq already advanced and
            # nothing is applied twice.
            claimed = tx.run(q.CLAIM_LEDGER_BATCH, claim).single()
            if claimed is None:
                return 0
            written = 0
            for batch in batches:
                record = tx.run(q.UPSERT_INTERACTIONS, {"rows": batch}).single()
                written += int(record[0]) if record is not None else 0
            return written

        with self._session() as session:
            return int(session.execute_write(apply_guarded))

    def ledger_position(self, key: str) -> int:
        rows = self._read(q.LEDGER_POSITION, {"key": key})
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def ledger_complete(self, key: str, *, rows: int) -> None:
        self._write(q.LEDGER_COMPLETE, {"key": key, "rows": int(rows), "now": int(time.time() * 1000)})

    def ledger_is_complete(self, key: str) -> bool:
        rows = self._read(q.LEDGER_POSITION, {"key": key})
        return bool(rows and rows[0][1])

    # -- reads -----------------------------------------------------------------------------------
    def user_interactions(self, *, user_id: str, limit: int = 50) -> list[Interaction]:
        rows = self._read(q.USER_INTERACTIONS, {"id": user_id, "limit": int(limit)})
        return [interaction_from_props(user_id, r[0], r[1]) for r in rows]

    def user_history(self, *, user_id: str, limit: int = 200) -> UserHistory:
        return history_from_rows(self._read(q.USER_HISTORY, {"id": user_id, "limit": int(limit)}))

    def user_item_ids(self, *, user_id: str) -> frozenset[str]:
        return frozenset(str(r[0]) for r in self._read(q.USER_ITEM_IDS, {"id": user_id}))

    def history_reader(self, *, concurrency: int = 100) -> ThreadedHistoryReader:
        """Reads on threads: this adapter is built on the synchronous driver. More concurrent reads
        than its threads queue for one (the driver's pool is not the limit)."""
        return ThreadedHistoryReader(self)

    def user_exists(self, *, user_id: str) -> bool:
        return bool(self._read(q.USER_EXISTS, {"id": user_id})[0][0])

    def item_exists(self, *, item_id: str) -> bool:
        return bool(self._read(q.ITEM_EXISTS, {"id": item_id})[0][0])

    def co_interaction_candidates_for_user(self, *, user_id: str, limit: int = 100, seed_items: int = 20,
                                           fanout: int = 50, now_ms: int,
                                           half_life_days: float) -> list[Candidate]:
        rows = self._read(q.USER_CANDIDATES, {
            "id": user_id, "limit": int(limit), "seeds": int(seed_items), "fanout": int(fanout),
            "now": int(now_ms), "half_life_ms": float(half_life_days) * _MS_PER_DAY,
        })
        return [Candidate(item_id=r[0], score=float(r[1]), evidence=tuple(r[2])) for r in rows]

    def co_interaction_candidates_for_item(self, *, item_id: str, limit: int = 50,
                                           fanout: int = 50) -> list[Candidate]:
        rows = self._read(q.ITEM_CANDIDATES, {"id": item_id, "limit": int(limit), "fanout": int(fanout)})
        return [Candidate(item_id=r[0], score=float(r[1]), evidence=(item_id,)) for r in rows]

    def iter_users(self, *, page_size: int = 50_000) -> Iterator[list[UserRecord]]:
        return paging.page_users(self._read, q.PAGE_USERS, page_size=page_size)

    def iter_items(self, *, page_size: int = 50_000) -> Iterator[ItemPage]:
        return paging.page_items(self._read, q.PAGE_ITEMS, page_size=page_size)

    def iter_interactions(self, *, page_size: int = 50_000,
                          since_ms: int | None = None) -> Iterator[InteractionPage]:
        return paging.page_interactions(self._read, user_ids_query=q.PAGE_USER_IDS, edges_query=q.EDGES_OF_USERS,
                                        counts=self.counts(), page_size=page_size, since_ms=since_ms)

    # -- embeddings ------------------------------------------------------------------------------
    def _ensure_vector_index(self, label: NodeLabel, dim: int) -> None:
        """Make the label's vector index exist with ``dim`` dimensions, unquantized (drop + create an
        index that differs: another model width, or a quantized index from before graphrec turned
        quantization off, whose approximate scores reorder neighbours against the API's cosine)."""
        if label == "Item":
            name, create, drop = q.ITEM_VECTOR_INDEX, q.CREATE_ITEM_VECTOR_INDEX, q.DROP_ITEM_VECTOR_INDEX
        else:
            name, create, drop = q.USER_VECTOR_INDEX, q.CREATE_USER_VECTOR_INDEX, q.DROP_USER_VECTOR_INDEX
        rows = self._read(q.VECTOR_INDEX_INFO, {"name": name})
        if rows and rows[0]["dim"] == dim and not rows[0]["quantized"]:
            if rows[0]["state"] != "ONLINE":
                self._write(q.AWAIT_INDEX, {"name": name, "timeout": _INDEX_TIMEOUT_S})
            return
        if rows:
            logger.info("vector index %s has %s dimensions (quantized: %s); re-creating it with %d, unquantized",
                        name, rows[0]["dim"], rows[0]["quantized"], dim)
            self._write(drop)  # a new model with another width: rebuild the index
        self._write(create, {"dim": int(dim)})
        self._write(q.AWAIT_INDEX, {"name": name, "timeout": _INDEX_TIMEOUT_S})

    def write_embeddings(self, *, label: NodeLabel, ids: Sequence[str], vectors: np.ndarray,
                         model_version: str) -> int:
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a 2-D array, got shape {vectors.shape}")
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
        self._ensure_vector_index(label, int(vectors.shape[1]))
        query = q.WRITE_ITEM_EMBEDDINGS if label == "Item" else q.WRITE_USER_EMBEDDINGS
        written = 0
        step = max(1, min(self._batch, _EMBEDDING_BATCH))
        for start in range(0, len(ids), step):
            rows = [{"id": i, "v": v} for i, v in zip(ids[start:start + step],
                                                      vectors[start:start + step].tolist(), strict=True)]
            records = self._write(query, {"rows": rows, "version": model_version})
            written += int(records[0][0]) if records else 0
        return written

    def similar_by_embedding(self, *, label: NodeLabel, vector: np.ndarray,
                             k: int) -> list[tuple[str, float]]:
        query = q.SIMILAR_ITEMS if label == "Item" else q.SIMILAR_USERS
        try:
            rows = self._read(query, {"k": int(k), "v": np.asarray(vector, dtype=np.float32).tolist()})
        except ClientError as exc:
            # No index yet, or a query vector of another width than the index: nothing is similar.
            if "index" in (exc.message or "").lower():
                return []
            raise
        # Neo4j's cosine score is (1 + cos) / 2; report the cosine similarity itself.
        return [(r[0], 2.0 * float(r[1]) - 1.0) for r in rows]

    def get_embedding(self, *, label: NodeLabel, node_id: str) -> np.ndarray | None:
        rows = self._read(q.ITEM_EMBEDDING if label == "Item" else q.USER_EMBEDDING, {"id": node_id})
        if not rows or rows[0][0] is None:
            return None
        return np.asarray(rows[0][0], dtype=np.float32)

    # -- meta ------------------------------------------------------------------------------------
    def set_meta(self, *, key: str, value: str) -> None:
        self._write(q.SET_META, {"key": key, "value": value})

    def get_meta(self, *, key: str) -> str | None:
        rows = self._read(q.GET_META, {"key": key})
        return rows[0][0] if rows else None

    # -- identity and privacy --------------------------------------------------------------------
    def delete_user(self, *, user_id: str) -> bool:
        rows = self._write(q.DELETE_USER, {"id": user_id})
        return bool(rows and rows[0][0])

    def merge_users(self, *, source_id: str, target_id: str) -> bool:
        if source_id == target_id:
            raise ValueError("cannot merge a user into itself")
        rows = self._write(q.MERGE_USERS, {"src": source_id, "dst": target_id})
        return bool(rows and rows[0][0])

    # -- housekeeping ----------------------------------------------------------------------------
    def counts(self) -> GraphCounts:
        r = self._read(q.COUNTS)[0]
        return GraphCounts(users=int(r["users"]), items=int(r["items"]), categories=int(r["categories"]),
                           interactions=int(r["interactions"]))

    def ping(self) -> bool:
        # One auto-commit read, no retries: a readiness probe must answer fast when Neo4j is down
        # (execute_query would keep retrying for max_transaction_retry_time, 30 s by default).
        try:
            with self._session(default_access_mode=READ_ACCESS) as session:
                record = session.run(q.PING).single()
            return record is not None and record[0] == 1
        except (Neo4jError, DriverError, OSError):
            return False

    def clear(self) -> None:
        # CALL ... IN TRANSACTIONS needs an auto-commit transaction, which the driver does not
        # retry; deleting is idempotent, so retry it here.
        for attempt in range(1, _CLEAR_ATTEMPTS + 1):
            try:
                with self._session() as session:
                    session.run(q.CLEAR).consume()
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

    # -- behaviour events ------------------------------------------------------------------------
    def upsert_interactions_once(self, deltas: Sequence[InteractionDelta], *, events: Sequence[EventKey],
                                 now_ms: int) -> EventWriteResult:
        # Sorted keys and rows: concurrent batches take their locks in one order (fewer deadlocks,
        # which the driver retries, between group commits that share users or event keys).
        keys = sorted(({"k": e.key, "u": e.user_id} for e in events), key=lambda k: k["k"])
        if len({k["k"] for k in keys}) != len(keys):
            raise ValueError("event keys must be distinct within one write")
        if not keys:
            if deltas:
                raise ValueError("deltas need the events they come from")
            return EventWriteResult(applied=True)
        users = sorted({e.user_id for e in events} | {d.user_id for d in deltas})
        rows = sorted((delta_row(d) for d in deltas), key=lambda r: (r["u"], r["i"]))
        batches = list(self._batches(rows))
        key_ids = [k["k"] for k in keys]

        def apply_once(tx: ManagedTransaction) -> EventWriteResult:
            # Check and write commit together; a re-run after an unconfirmed commit finds its own
            # keys recorded and writes nothing.
            existing = tx.run(q.EXISTING_EVENT_IDS, {"keys": key_ids}).single()
            refused = tx.run(q.REFUSING_USERS, {"users": users}).single()
            seen = list(existing[0]) if existing is not None else []
            refusing = sorted(refused[0]) if refused is not None else []
            if seen or refusing:
                return EventWriteResult(applied=False, existing=tuple(seen), refused_users=tuple(refusing))
            tx.run(q.RECORD_EVENT_IDS, {"keys": keys, "now": int(now_ms)}).consume()
            for batch in batches:
                tx.run(q.UPSERT_INTERACTIONS, {"rows": batch}).consume()
            return EventWriteResult(applied=True, edges=len(deltas))

        with self._session() as session:
            try:
                return session.execute_write(apply_once)
            except ConstraintError:
                # A concurrent writer recorded one of these keys first (EventId.key is unique):
                # nothing was written; the check now reports the keys it owns.
                return session.execute_write(apply_once)

    def iter_interaction_aggregates(self, *, page_size: int = 50_000) -> Iterator[list[Interaction]]:
        counts = self.counts()
        per_user = max(1.0, counts.interactions / max(1, counts.users))
        users_per_page = max(1, int(page_size / per_user))
        after = ""
        while True:
            ids = [r[0] for r in self._read(q.PAGE_USER_IDS, {"after": after, "limit": users_per_page})]
            if not ids:
                return
            rows = self._read(q.EDGE_AGGREGATES_OF_USERS, {"ids": ids})
            after = ids[-1]
            if rows:
                yield [interaction_from_props(r[0], r[1], r[2]) for r in rows]

    def set_interaction_weights(self, rows: Sequence[WeightUpdate]) -> list[tuple[str, str]]:
        params = [{"u": r.user_id, "i": r.item_id, "w": float(r.weight), "c": int(r.expected_count)}
                  for r in rows]
        updated: set[tuple[str, str]] = set()
        for batch in self._batches(params):
            updated.update((r[0], r[1]) for r in self._write(q.SET_INTERACTION_WEIGHTS, {"rows": batch}))
        return [(r.user_id, r.item_id) for r in rows if (r.user_id, r.item_id) not in updated]

    def reassign_event_ids(self, *, source_id: str, target_id: str) -> int:
        rows = self._write(q.REASSIGN_EVENT_IDS, {"src": source_id, "dst": target_id})
        return int(rows[0][0]) if rows else 0

    def _delete_in_chunks(self, query: LiteralString, params: Mapping[str, Any]) -> int:
        total = 0
        while True:
            rows = self._write(query, {**params, "limit": self._batch})
            n = int(rows[0][0]) if rows else 0
            total += n
            if n < self._batch:
                return total

    def erase_event_ids(self, *, user_id: str) -> int:
        return self._delete_in_chunks(q.ERASE_EVENT_IDS, {"id": user_id})

    def expire_event_ids(self, *, before_ms: int) -> int:
        return self._delete_in_chunks(q.EXPIRE_EVENT_IDS, {"before": int(before_ms)})

    def get_user(self, *, user_id: str) -> UserRecord | None:
        rows = self._read(q.GET_USER, {"id": user_id})
        if not rows:
            return None
        return user_from_props(user_id, rows[0][0])
