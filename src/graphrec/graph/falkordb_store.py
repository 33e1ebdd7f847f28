"""GraphStore adapter for FalkorDB: the embedded default, or a remote server at ``falkor://``.

Each FalkorDB query is atomic and there are no client-side transactions, so every multi-step write
(ledger guard + batch, the exactly-once event write, user merge and erasure) is a single query;
every statement is a field of ``graphrec.graph.cypher.falkordb.FALKORDB``. Shared behaviour lives
in :class:`~graphrec.graph.base_store.CypherStore`.

Storage: seen events are ``(:EventKeys {user, keys, fps, at})`` nodes, one per user per write, their
keys in an indexed array and the events' content fingerprints in the parallel array ``fps`` (absent
on records written before fingerprints; ``""`` where none was given). Reads of a graph nothing was
written to yet are empty (the server has no such key until the first write).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from falkordb import FalkorDB
from redis.exceptions import RedisError, ResponseError

from graphrec.graph.base_store import CypherStore, Rows
from graphrec.graph.cypher.dialect import FALKORDB as FALKORDB_DIALECT
from graphrec.graph.cypher.falkordb import FALKORDB, FalkorDBStatements
from graphrec.graph.cypher_values import plain
from graphrec.graph.embedded import EmbeddedServer, EmbeddedStoreError
from graphrec.graph.errors import StoreUnavailable, translating
from graphrec.graph.falkordb_async import FalkorDBHistoryReader, plain_rows
from graphrec.graph.falkordb_connection import TRANSIENT, classify, quick_retry
from graphrec.graph.falkordb_params import params_header
from graphrec.graph.port import EventKey, EventWriteResult
from graphrec.graph.records import BatchGuard, CypherResult, InteractionDelta, NodeLabel
from graphrec.graph.start_budget import StartBudget

if TYPE_CHECKING:
    from graphrec.graph.falkordb_console import FalkorDBConsole

logger = logging.getLogger(__name__)

_INDEX_BUILD_TIMEOUT_S = 600.0


def _recorded_fingerprints(
    existing: Sequence[str], records: Sequence[Sequence[Sequence[str]]]
) -> tuple[tuple[str, str], ...]:
    """(key, fingerprint) of ``existing`` from the matched records' parallel ``[keys, fps]`` arrays.

    Why here and not in the query: Cypher has no index-of, so picking one key's fingerprint there
    costs a scan of the record per key; the records come back once each and a dict does the rest."""
    wanted = set(existing)
    out: dict[str, str] = {}
    for keys, fps in records:
        if len(keys) != len(fps):  # not a record this code wrote: no fingerprints to trust
            continue
        for k, fp in zip(keys, fps, strict=True):
            if fp and k in wanted:
                out[k] = fp
    return tuple(out.items())


def _client(**options: Any) -> FalkorDB:
    """A FalkorDB client. Its constructor already talks to the server (it asks whether it is a cluster
    or a sentinel), so a server that cannot be reached is :class:`StoreUnavailable` here too, as for
    every method, not a driver error that a command would print as a traceback."""
    try:
        return FalkorDB(**options)
    except TRANSIENT as exc:
        raise StoreUnavailable(f"FalkorDB unavailable: {type(exc).__name__}: {exc}") from exc


@translating(classify, "FalkorDB")
class FalkorDBStore(CypherStore):
    """FalkorDB implementation of :class:`graphrec.graph.port.GraphStore`."""

    _q: ClassVar[FalkorDBStatements] = FALKORDB
    _dialect = FALKORDB_DIALECT

    def __init__(
        self, db: FalkorDB, *, graph: str = "graphrec", batch_size: int = 10_000, server: EmbeddedServer | None = None
    ) -> None:
        super().__init__(batch_size=batch_size)
        self._db = db
        self._graph = db.select_graph(graph)
        self._server = server
        self._vector_dims: dict[str, int] = {}

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def embedded(
        cls,
        data_dir: Path | str,
        *,
        graph: str = "graphrec",
        batch_size: int = 10_000,
        die_with_parent: bool = False,
        timeout_s: float | None = None,
        connect_timeout_s: float = 3.0,
        start_budget: StartBudget | None = None,
    ) -> FalkorDBStore:
        """Start (or join) the embedded server for ``data_dir`` and connect over its unix socket.

        ``timeout_s`` bounds every command (None: wait as long as a bulk import needs); ``start_budget``
        how long the server may take to answer when this store starts or restarts it."""
        server = EmbeddedServer(data_dir, start_budget=start_budget)
        info = server.acquire(die_with_parent=die_with_parent)
        try:
            db = _client(
                unix_socket_path=info.socket,
                password=server.password(),
                retry=quick_retry(),
                socket_timeout=timeout_s,
                socket_connect_timeout=connect_timeout_s,
            )
        except Exception:
            server.release()
            raise
        return cls(db, graph=graph, batch_size=batch_size, server=server)

    @classmethod
    def remote(
        cls,
        host: str,
        port: int,
        *,
        password: str | None,
        graph: str = "graphrec",
        batch_size: int = 10_000,
        ssl: bool = False,
        timeout_s: float | None = None,
        connect_timeout_s: float = 3.0,
    ) -> FalkorDBStore:
        return cls(
            _client(
                host=host,
                port=port,
                password=password,
                ssl=ssl,
                retry=quick_retry(),
                socket_timeout=timeout_s,
                socket_connect_timeout=connect_timeout_s,
            ),
            graph=graph,
            batch_size=batch_size,
        )

    # -- plumbing --------------------------------------------------------------------------------
    def _graph_missing(self) -> bool:
        """Whether nothing was written to the graph yet: its key does not exist, reads of it fail."""
        return not self._db.connection.exists(self._graph.name)

    def _write(self, query: str, params: Mapping[str, Any] | None = None) -> Rows:
        rows: Rows = self._graph.query(params_header(params) + query).result_set
        return rows

    def _read(self, query: str, params: Mapping[str, Any] | None = None) -> Rows:
        try:
            rows: Rows = self._graph.ro_query(params_header(params) + query).result_set
            return rows
        except ResponseError:
            if self._graph_missing():
                return []
            raise

    def _read_bulk(self, query: str, params: Mapping[str, Any] | None = None) -> Rows:
        """A read in FalkorDB's plain reply format.

        Why: the client's compact format is decoded cell by cell in Python (~25k edges/s); the plain
        format is decoded by hiredis in C (~280k edges/s). Plain replies carry doubles as decimal
        strings (15 significant digits): callers convert columns with numpy. Parameters go through
        the same encoder as every other query.
        """
        command = params_header(params) + query
        try:
            reply = self._db.connection.execute_command("GRAPH.RO_QUERY", self._graph.name, command)
        except ResponseError:
            if self._graph_missing():
                return []
            raise
        return plain_rows(reply)

    def run_cypher(self, query: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> CypherResult:
        """Read-only unless ``write`` (GRAPH.RO_QUERY refuses writes)."""
        run = self._graph.query if write else self._graph.ro_query
        try:
            result = run(params_header(params) + query)
        except ResponseError:
            if not write and self._graph_missing():
                return CypherResult([], [])
            raise
        columns = [str(h[1]) for h in (result.header or [])]
        return CypherResult(columns, [[plain(v) for v in row] for row in result.result_set])

    def cypher_console(self, *, write: bool = False) -> FalkorDBConsole:
        """An analyst's session on this store's server, starting on this store's graph."""
        from graphrec.graph.falkordb_console import FalkorDBConsole

        return FalkorDBConsole(self._db, self._graph.name, write=write)

    def history_reader(self, *, concurrency: int = 100) -> FalkorDBHistoryReader:
        return FalkorDBHistoryReader.like(
            self._db.connection.connection_pool, self._graph.name, max_connections=concurrency
        )

    # -- one-query transactions ------------------------------------------------------------------
    def _upsert_guarded(self, rows: list[dict[str, Any]], guard: BatchGuard) -> int:
        # A guarded batch must be one atomic query, whatever its size.
        result = self._write(self._q.UPSERT_INTERACTIONS_GUARDED, {"rows": rows, "key": guard.key, "seq": guard.seq})
        return int(result[0][0]) if result else 0

    def _write_once(
        self, deltas: Sequence[InteractionDelta], events: Sequence[EventKey], now_ms: int
    ) -> EventWriteResult:
        by_user: dict[str, tuple[list[str], list[str]]] = {}
        for e in events:
            keys, fps = by_user.setdefault(e.user_id, ([], []))
            keys.append(e.key)
            fps.append(e.fingerprint or "")  # parallel to keys; "" = none given
        users = sorted(by_user.keys() | {d.user_id for d in deltas})
        # One atomic query, whatever its size (callers bound the batch).
        rows = self._write(
            self._q.UPSERT_INTERACTIONS_ONCE,
            {
                "keys": [e.key for e in events],
                "groups": [{"u": u, "keys": ks, "fps": fs} for u, (ks, fs) in by_user.items()],
                "users": users,
                "rows": self._delta_rows(deltas),
                "now": now_ms,
            },
        )
        ok, existing, refused, records = rows[0]
        if ok:
            return EventWriteResult(applied=True, edges=len(deltas))
        return EventWriteResult(
            applied=False,
            existing=tuple(existing),
            refused_users=tuple(sorted(refused)),
            fingerprints=_recorded_fingerprints(existing, records),
        )

    # -- schema and indexes ----------------------------------------------------------------------
    def _indexes(self) -> list[tuple[str, str, list[str], str]]:
        """Every indexed (label, property) with its index types and state."""
        return [
            (str(label), str(prop), list(types.get(prop) or []), str(status))
            for label, props, types, status in self._read(self._q.INDEXES)
            for prop in props
        ]

    def _range_indexed(self) -> set[tuple[str, str]]:
        return {(label, prop) for label, prop, types, _ in self._indexes() if "RANGE" in types}

    def apply_schema(self) -> None:
        """Create the missing indexes (FalkorDB has no IF NOT EXISTS), then fold older event records."""
        indexed = self._range_indexed()
        for index in self._q.SCHEMA:
            if (index.label, index.prop) in indexed:
                continue
            try:
                self._write(index.create)
            except ResponseError:
                # Another process may have created it since the listing (API workers start together).
                if (index.label, index.prop) not in self._range_indexed():
                    raise
        while (rows := self._write(self._q.MIGRATE_EVENT_IDS, {"limit": self._batch})) and rows[0][0]:
            pass
        self._recount_degrees_once()

    def _prepare_vector_index(self, label: NodeLabel, dim: int) -> None:
        if self._vector_dims.get(label) == dim:
            return
        q = self._q
        create, drop, sample = (
            (q.CREATE_ITEM_VECTOR_INDEX, q.DROP_ITEM_VECTOR_INDEX, q.ANY_ITEM_EMBEDDING)
            if label == "Item"
            else (q.CREATE_USER_VECTOR_INDEX, q.DROP_USER_VECTOR_INDEX, q.ANY_USER_EMBEDDING)
        )
        if any(lbl == label and p == "embedding" and "VECTOR" in t for lbl, p, t, _ in self._indexes()):
            stored = self._read(sample)
            if stored and len(stored[0][0]) == dim:
                self._vector_dims[label] = dim
                return
            self._write(drop)  # a new model with another width: rebuild the index
        self._write(create, {"dim": int(dim)})
        self._vector_dims[label] = dim

    def _vector_index_built(self, label: NodeLabel) -> None:
        """FalkorDB (re)builds indexes in the background and answers from a partial index meanwhile,
        so a publish is only done once ``label``'s indexes are all operational."""
        deadline = time.monotonic() + _INDEX_BUILD_TIMEOUT_S
        while pending := [s for lbl, _, _, s in self._indexes() if lbl == label and s != "OPERATIONAL"]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{label} index still building after {_INDEX_BUILD_TIMEOUT_S:.0f}s: {pending[0]}")
            time.sleep(0.05)

    # -- lifecycle -------------------------------------------------------------------------------
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

    def compact_history(self, *, timeout_s: float) -> bool | None:
        """``BGREWRITEAOF``, waited for: the rewritten file is a snapshot of the data as it is now, so an
        erased user's writes (and the erasure's own parameters) are gone from disk once the old files
        are dropped. A rewrite already running may have forked before the erasure, so it is waited
        out and a new one started. None when the server keeps no append-only file; False when the
        deadline passed (a rewrite may still be running: the caller must ask again) or it failed."""
        conn = self._db.connection
        deadline = time.monotonic() + timeout_s

        def busy() -> bool:
            p = conn.info("persistence")
            return bool(p.get("aof_rewrite_in_progress") or p.get("aof_rewrite_scheduled"))

        def wait_idle() -> bool:
            while busy():
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)
            return True

        if not conn.info("persistence").get("aof_enabled"):
            return None
        if not wait_idle():
            return False
        before = int(conn.info("persistence").get("aof_rewrites", 0) or 0)
        try:
            conn.bgrewriteaof()
        except ResponseError as exc:  # one started since the check: it forked after the erasure too
            logger.debug("AOF rewrite not started: %s", exc)
        if not wait_idle():
            logger.warning("the append-only file rewrite after an erasure took over %.0f s", timeout_s)
            return False
        p = conn.info("persistence")
        done = p.get("aof_last_bgrewrite_status") == "ok" and int(p.get("aof_rewrites", 0) or 0) > before
        if not done:
            logger.warning(
                "the append-only file rewrite after an erasure failed (%s)", p.get("aof_last_bgrewrite_status")
            )
        return done

    def clear(self) -> None:
        self._write(self._q.CLEAR)

    def close(self) -> None:
        try:
            self._db.connection.close()
        finally:
            if self._server is not None:
                self._server.release()
                self._server = None
