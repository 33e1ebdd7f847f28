"""GraphStore adapter for FalkorDB: the embedded default, or a remote server at ``falkor://``.

Each FalkorDB query is atomic, so every multi-step write here is a single query (ledger guard +
batch, user merge) rather than a client-side transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from falkordb import FalkorDB
from redis.exceptions import RedisError, ResponseError

from graphrec.graph import falkordb_cypher as q
from graphrec.graph import paging
from graphrec.graph.cypher_values import plain
from graphrec.graph.embedded import EmbeddedServer, EmbeddedStoreError
from graphrec.graph.errors import translating
from graphrec.graph.falkordb_async import FalkorDBHistoryReader, is_missing_graph, plain_rows
from graphrec.graph.falkordb_connection import TRANSIENT, quick_retry
from graphrec.graph.falkordb_params import params_header
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

logger = logging.getLogger(__name__)

_MS_PER_DAY = 86_400_000

@translating((*TRANSIENT, EmbeddedStoreError), "FalkorDB")
class FalkorDBStore:
    """FalkorDB implementation of :class:`graphrec.graph.port.GraphStore`."""

    def __init__(self, db: FalkorDB, *, graph: str = "graphrec", batch_size: int = 10_000,
                 server: EmbeddedServer | None = None) -> None:
        self._db = db
        self._graph = db.select_graph(graph)
        self._batch = batch_size
        self._server = server
        self._vector_dims: dict[str, int] = {}

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def embedded(cls, data_dir: Path | str, *, graph: str = "graphrec", batch_size: int = 10_000,
                 die_with_parent: bool = False, timeout_s: float | None = None,
                 connect_timeout_s: float = 3.0) -> FalkorDBStore:
        """Start (or join) the embedded server for ``data_dir`` and connect over its unix socket.

        ``timeout_s`` bounds every command (None: wait as long as a bulk import needs)."""
        server = EmbeddedServer(data_dir)
        info = server.acquire(die_with_parent=die_with_parent)
        try:
            db = FalkorDB(unix_socket_path=info.socket, password=server.password(), retry=quick_retry(),
                          socket_timeout=timeout_s, socket_connect_timeout=connect_timeout_s)
        except Exception:
            server.release()
            raise
        return cls(db, graph=graph, batch_size=batch_size, server=server)

    @classmethod
    def remote(cls, host: str, port: int, *, password: str | None, graph: str = "graphrec",
               batch_size: int = 10_000, ssl: bool = False, timeout_s: float | None = None,
               connect_timeout_s: float = 3.0) -> FalkorDBStore:
        return cls(FalkorDB(host=host, port=port, password=password, ssl=ssl, retry=quick_retry(),
                            socket_timeout=timeout_s, socket_connect_timeout=connect_timeout_s),
                   graph=graph, batch_size=batch_size)

    # -- plumbing --------------------------------------------------------------------------------
    def _run(self, query: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        return self._graph.query(params_header(params) + query).result_set

    def run_cypher(self, query: str, params: Mapping[str, Any] | None = None, *,
                   write: bool = False) -> CypherResult:
        """An analyst's own statement (``graphrec cypher``), values bound as parameters.

        Read-only unless ``write`` (GRAPH.RO_QUERY refuses writes)."""
        run = self._graph.query if write else self._graph.ro_query
        try:
            result = run(params_header(params) + query)
        except ResponseError as exc:
            if not write and is_missing_graph(exc):
                return CypherResult([], [])
            raise
        columns = [str(h[1]) for h in (result.header or [])]
        return CypherResult(columns, [[plain(v) for v in row] for row in result.result_set])

    def _ro(self, query: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        try:
            return self._graph.ro_query(params_header(params) + query).result_set
        except ResponseError as exc:
            if is_missing_graph(exc):  # nothing written yet: the graph key does not exist
                return []
            raise

    def _ro_bulk(self, query: str, params: Mapping[str, Any] | None = None) -> list[list[Any]]:
        """Read-only query in FalkorDB's plain reply format, for bulk reads (export pages).

        Why: the client's compact format is decoded cell by cell in Python (~25k edges/s); the plain
        format is decoded by hiredis in C (~280k edges/s). Plain replies carry doubles as decimal
        strings (15 significant digits): callers convert columns with numpy. Parameters go through
        the same encoder as every other query.
        """
        command = params_header(params) + query
        try:
            reply = self._db.connection.execute_command("GRAPH.RO_QUERY", self._graph.name, command)
        except ResponseError as exc:
            if is_missing_graph(exc):
                return []
            raise
        return plain_rows(reply)

    def _scalar(self, query: str, params: Mapping[str, Any] | None = None) -> Any:
        rows = self._ro(query, params)
        return rows[0][0] if rows else None

    def _batches(self, rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(rows), self._batch):
            yield rows[start : start + self._batch]

    # -- schema ----------------------------------------------------------------------------------
    def apply_schema(self) -> None:
        for stmt in q.SCHEMA:
            try:
                self._run(stmt)
            except ResponseError as exc:
                if "already indexed" not in str(exc):
                    raise
        while (rows := self._run(q.MIGRATE_EVENT_IDS, {"limit": self._batch})) and rows[0][0]:
            pass

    # -- writes ----------------------------------------------------------------------------------
    def upsert_users(self, users: Sequence[UserRecord]) -> int:
        rows = [user_row(u) for u in users]
        for batch in self._batches(rows):
            self._run(q.UPSERT_USERS, {"rows": batch})
        return len(rows)

    def upsert_items(self, items: Sequence[ItemRecord]) -> int:
        rows = [item_row(it) for it in items]
        for batch in self._batches(rows):
            self._run(q.UPSERT_ITEMS, {"rows": batch})
        return len(rows)

    def upsert_interactions(self, deltas: Sequence[InteractionDelta], *,
                            guard: BatchGuard | None = None) -> int:
        rows = [delta_row(d) for d in deltas]
        if guard is not None:
            # A guarded batch must be one atomic query, whatever its size.
            result = self._run(q.UPSERT_INTERACTIONS_GUARDED,
                               {"rows": rows, "key": guard.key, "seq": guard.seq})
            return int(result[0][0]) if result else 0
        written = 0
        for batch in self._batches(rows):
            result = self._run(q.UPSERT_INTERACTIONS, {"rows": batch})
            written += int(result[0][0]) if result else 0
        return written

    def ledger_position(self, key: str) -> int:
        rows = self._ro(q.LEDGER_POSITION, {"key": key})
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def ledger_complete(self, key: str, *, rows: int) -> None:
        self._run(q.LEDGER_COMPLETE, {"key": key, "rows": int(rows), "now": int(time.time() * 1000)})

    def ledger_is_complete(self, key: str) -> bool:
        rows = self._ro(q.LEDGER_POSITION, {"key": key})
        return bool(rows and rows[0][1])

    # -- reads -----------------------------------------------------------------------------------
    def user_interactions(self, *, user_id: str, limit: int = 50) -> list[Interaction]:
        rows = self._ro(q.USER_INTERACTIONS, {"id": user_id, "limit": int(limit)})
        return [interaction_from_props(user_id, item_id, props) for item_id, props in rows]

    def user_history(self, *, user_id: str, limit: int = 200) -> UserHistory:
        return history_from_rows(self._ro_bulk(q.USER_HISTORY, {"id": user_id, "limit": int(limit)}))

    def user_item_ids(self, *, user_id: str) -> frozenset[str]:
        return frozenset(str(row[0]) for row in self._ro_bulk(q.USER_ITEM_IDS, {"id": user_id}))

    def history_reader(self, *, concurrency: int = 100) -> FalkorDBHistoryReader:
        return FalkorDBHistoryReader.like(self._db.connection.connection_pool, self._graph.name,
                                          max_connections=concurrency)

    def user_exists(self, *, user_id: str) -> bool:
        return bool(self._scalar(q.USER_EXISTS, {"id": user_id}))

    def item_exists(self, *, item_id: str) -> bool:
        return bool(self._scalar(q.ITEM_EXISTS, {"id": item_id}))

    def co_interaction_candidates_for_user(self, *, user_id: str, limit: int = 100, seed_items: int = 20,
                                           fanout: int = 50, now_ms: int,
                                           half_life_days: float) -> list[Candidate]:
        rows = self._ro(q.USER_CANDIDATES, {
            "id": user_id, "limit": int(limit), "seeds": int(seed_items), "fanout": int(fanout),
            "now": int(now_ms), "half_life_ms": float(half_life_days) * _MS_PER_DAY,
        })
        return [Candidate(item_id=r[0], score=float(r[1]), evidence=tuple(r[2])) for r in rows]

    def co_interaction_candidates_for_item(self, *, item_id: str, limit: int = 50,
                                           fanout: int = 50) -> list[Candidate]:
        rows = self._ro(q.ITEM_CANDIDATES, {"id": item_id, "limit": int(limit), "fanout": int(fanout)})
        return [Candidate(item_id=r[0], score=float(r[1]), evidence=(item_id,)) for r in rows]

    def iter_users(self, *, page_size: int = 50_000) -> Iterator[list[UserRecord]]:
        return paging.page_users(self._ro, q.PAGE_USERS, page_size=page_size)

    def iter_items(self, *, page_size: int = 50_000) -> Iterator[ItemPage]:
        after = ""
        while rows := self._ro_bulk(q.PAGE_ITEMS_FLAT, {"after": after, "limit": int(page_size)}):
            titles: dict[str, str | None] = {}
            cats: dict[str, list[str]] = {}
            for item_id, title, category in rows:  # one row per (item, category): grouping only
                titles[item_id] = title
                names = cats.setdefault(item_id, [])
                if category is not None:
                    names.append(category)
            ids = sorted(titles)
            yield ItemPage(ids=ids, titles=[titles[i] for i in ids], categories=[sorted(cats[i]) for i in ids])
            after = ids[-1]

    def iter_interactions(self, *, page_size: int = 50_000,
                          since_ms: int | None = None) -> Iterator[InteractionPage]:
        return paging.page_interactions(self._ro_bulk, user_ids_query=q.PAGE_USER_IDS,
                                        edges_query=q.EDGES_OF_USERS,
                                        counts=self.counts(), page_size=page_size, since_ms=since_ms)

    # -- embeddings ------------------------------------------------------------------------------
    def _ensure_vector_index(self, label: NodeLabel, dim: int) -> None:
        if self._vector_dims.get(label) == dim:
            return
        existing = {row[0]: row for row in self._ro(q.VECTOR_INDEXES)}
        create = q.CREATE_VECTOR_INDEX_ITEM if label == "Item" else q.CREATE_VECTOR_INDEX_USER
        drop = q.DROP_VECTOR_INDEX_ITEM if label == "Item" else q.DROP_VECTOR_INDEX_USER
        row = existing.get(label)
        if row is not None and "VECTOR" in (row[2].get("embedding") or []):
            current = self._stored_dim(label)
            if current == dim:
                self._vector_dims[label] = dim
                return
            self._run(drop)  # a new model with another width: rebuild the index
        self._run(create, {"dim": int(dim)})
        self._vector_dims[label] = dim

    def _await_indexes(self, label: NodeLabel, timeout_s: float = 600.0) -> None:
        """Block until ``label``'s indexes are built: FalkorDB (re)builds them in the background and
        answers from a partial index meanwhile, so a publish is only done once this returns."""
        deadline = time.monotonic() + timeout_s
        while True:
            pending = [row for row in self._ro(q.INDEX_STATUS)
                       if row[0] == label and str(row[1]) != "OPERATIONAL"]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{label} index still building after {timeout_s:.0f}s: {pending[0][1]}")
            time.sleep(0.05)

    def _stored_dim(self, label: NodeLabel) -> int | None:
        rows = self._ro(q.ANY_ITEM_EMBEDDING if label == "Item" else q.ANY_USER_EMBEDDING)
        return len(rows[0][0]) if rows else None

    def write_embeddings(self, *, label: NodeLabel, ids: Sequence[str], vectors: np.ndarray,
                         model_version: str) -> int:
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids but {len(vectors)} vectors")
        vectors = np.asarray(vectors, dtype=np.float32)
        self._ensure_vector_index(label, int(vectors.shape[1]))
        query = q.WRITE_ITEM_EMBEDDINGS if label == "Item" else q.WRITE_USER_EMBEDDINGS
        written = 0
        step = max(1, min(self._batch, 2_000))
        for start in range(0, len(ids), step):
            rows = [{"id": i, "v": v} for i, v in zip(ids[start:start + step],
                                                      vectors[start:start + step].tolist(), strict=True)]
            result = self._run(query, {"rows": rows, "version": model_version})
            written += int(result[0][0]) if result else 0
        self._await_indexes(label)
        return written

    def similar_by_embedding(self, *, label: NodeLabel, vector: np.ndarray,
                             k: int) -> list[tuple[str, float]]:
        query = q.SIMILAR_ITEMS if label == "Item" else q.SIMILAR_USERS
        # The index is approximate (HNSW): asked for exactly k it returned fewer now and then (1 of 2
        # in a contract run on a busy machine), so it is asked for more and the closest k are kept.
        try:
            rows = self._ro(query, {"k": int(k) * 4 + 10, "v": np.asarray(vector, dtype=np.float32).tolist()})
        except ResponseError as exc:
            if "index" in str(exc).lower():
                return []
            raise
        best = sorted((float(r[1]), str(r[0])) for r in rows)[: int(k)]
        return [(node_id, 1.0 - distance) for distance, node_id in best]

    def get_embedding(self, *, label: NodeLabel, node_id: str) -> np.ndarray | None:
        rows = self._ro(q.ITEM_EMBEDDING if label == "Item" else q.USER_EMBEDDING, {"id": node_id})
        if not rows or rows[0][0] is None:
            return None
        return np.asarray(rows[0][0], dtype=np.float32)

    # -- meta ------------------------------------------------------------------------------------
    def set_meta(self, *, key: str, value: str) -> None:
        self._run(q.SET_META, {"key": key, "value": value})

    def get_meta(self, *, key: str) -> str | None:
        value = self._scalar(q.GET_META, {"key": key})
        return None if value is None else str(value)

    # -- identity and privacy --------------------------------------------------------------------
    def delete_user(self, *, user_id: str) -> bool:
        rows = self._run(q.DELETE_USER, {"id": user_id})
        return bool(rows and rows[0][0])

    def merge_users(self, *, source_id: str, target_id: str) -> bool:
        if source_id == target_id:
            raise ValueError("cannot merge a user into itself")
        rows = self._run(q.MERGE_USERS, {"src": source_id, "dst": target_id})
        return bool(rows and rows[0][0])

    # -- housekeeping ----------------------------------------------------------------------------
    def counts(self) -> GraphCounts:
        def one(query: str) -> int:
            return int(self._scalar(query) or 0)

        return GraphCounts(users=one(q.COUNT_USERS), items=one(q.COUNT_ITEMS),
                           categories=one(q.COUNT_CATEGORIES), interactions=one(q.COUNT_INTERACTIONS))

    def ping(self) -> bool:
        try:
            return bool(self._db.connection.ping())
        except (RedisError, OSError):
            return False

    def recover(self) -> bool:
        """Restart the embedded server if its process died (a remote server is not ours to restart),
        then ping; the API's watchdog calls this while the store does not answer."""
        if self._server is not None:
            try:
                self._server.revive()
            except EmbeddedStoreError:
                logger.exception("could not restart the embedded FalkorDB server")
                return False
        return self.ping()

    def clear(self) -> None:
        self._run(q.CLEAR)

    def close(self) -> None:
        try:
            self._db.connection.close()
        finally:
            if self._server is not None:
                self._server.release()
                self._server = None

    # -- behaviour events ------------------------------------------------------------------------
    def upsert_interactions_once(self, deltas: Sequence[InteractionDelta], *, events: Sequence[EventKey],
                                 now_ms: int) -> EventWriteResult:
        keys = [e.key for e in events]
        if len(set(keys)) != len(keys):
            raise ValueError("event keys must be distinct within one write")
        if not keys:
            if deltas:
                raise ValueError("deltas need the events they come from")
            return EventWriteResult(applied=True)
        by_user: dict[str, list[str]] = {}
        for e in events:
            by_user.setdefault(e.user_id, []).append(e.key)
        users = sorted(by_user.keys() | {d.user_id for d in deltas})
        # A guarded write must be one atomic query, whatever its size (callers bound the batch).
        rows = self._run(q.UPSERT_INTERACTIONS_ONCE, {
            "keys": keys, "groups": [{"u": u, "keys": ks} for u, ks in by_user.items()], "users": users,
            "rows": [delta_row(d) for d in deltas], "now": int(now_ms)})
        ok, existing, refused = rows[0]
        if ok:
            return EventWriteResult(applied=True, edges=len(deltas))
        return EventWriteResult(applied=False, existing=tuple(existing), refused_users=tuple(sorted(refused)))

    def iter_interaction_aggregates(self, *, page_size: int = 50_000) -> Iterator[list[Interaction]]:
        counts = self.counts()
        per_user = max(1.0, counts.interactions / max(1, counts.users))
        users_per_page = max(1, int(page_size / per_user))
        after = ""
        while True:
            ids = [r[0] for r in self._ro(q.PAGE_USER_IDS, {"after": after, "limit": users_per_page})]
            if not ids:
                return
            rows = self._ro(q.EDGE_AGGREGATES_OF_USERS, {"ids": ids})
            after = ids[-1]
            if rows:
                yield [interaction_from_props(u, i, props) for u, i, props in rows]

    def set_interaction_weights(self, rows: Sequence[WeightUpdate]) -> list[tuple[str, str]]:
        params = [{"u": r.user_id, "i": r.item_id, "w": float(r.weight), "c": int(r.expected_count)}
                  for r in rows]
        updated: set[tuple[str, str]] = set()
        for batch in self._batches(params):
            updated.update((u, i) for u, i in self._run(q.SET_INTERACTION_WEIGHTS, {"rows": batch}))
        return [(r.user_id, r.item_id) for r in rows if (r.user_id, r.item_id) not in updated]

    def reassign_event_ids(self, *, source_id: str, target_id: str) -> int:
        rows = self._run(q.REASSIGN_EVENT_IDS, {"src": source_id, "dst": target_id})
        return int(rows[0][0]) if rows else 0

    def _delete_in_chunks(self, query: str, params: Mapping[str, Any]) -> int:
        """Run a chunked delete returning ``(records, event keys)`` until a chunk is short."""
        total = 0
        while True:
            rows = self._run(query, {**params, "limit": self._batch})
            records, keys = (int(rows[0][0]), int(rows[0][1] or 0)) if rows else (0, 0)
            total += keys
            if records < self._batch:
                return total

    def erase_event_ids(self, *, user_id: str) -> int:
        return self._delete_in_chunks(q.ERASE_EVENT_IDS, {"id": user_id})

    def expire_event_ids(self, *, before_ms: int) -> int:
        return self._delete_in_chunks(q.EXPIRE_EVENT_IDS, {"before": int(before_ms)})

    def get_user(self, *, user_id: str) -> UserRecord | None:
        rows = self._ro(q.GET_USER, {"id": user_id})
        if not rows:
            return None
        return user_from_props(user_id, rows[0][0])

