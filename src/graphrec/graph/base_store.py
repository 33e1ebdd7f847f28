"""What both graph store adapters do alike, written once over a few store primitives.

Why a base class: the Neo4j and FalkorDB adapters send the same statements (``graphrec.graph.cypher``)
and convert the same rows, so batching, the ledger, reads, paging, identity operations, embeddings
bookkeeping and the event-record housekeeping live here. An adapter supplies its statement set and
the primitives (``_read``, ``_write``, optionally ``_read_bulk``), plus what really differs: its
driver plumbing, its transactions (the guarded batch and the exactly-once event write), vector index
management, schema, health and lifecycle.

The ``iter_*`` methods are generators themselves (``yield from``), not functions returning one, so an
adapter's error translation (``graphrec.graph.errors.translating``) also covers a page read late.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from graphrec import clock
from graphrec.clock import DAY_MS
from graphrec.graph import paging
from graphrec.graph.cypher.dialect import Dialect
from graphrec.graph.cypher.statements import Statements
from graphrec.graph.edge_combination import fold
from graphrec.graph.errors import BadStoreInput
from graphrec.graph.port import SEGMENTATION_META_KEY, EventKey, EventWriteResult, WeightUpdate
from graphrec.graph.records import (
    BatchGuard,
    Candidate,
    CatalogueItem,
    GraphCounts,
    Interaction,
    InteractionDelta,
    InteractionPage,
    ItemPage,
    ItemRecord,
    NodeLabel,
    SegmentRecord,
    UserHistory,
    UserRecord,
)
from graphrec.graph.rows import (
    cap_param,
    catalogue_item_from_row,
    catalogue_row,
    delta_row,
    history_from_rows,
    interaction_from_props,
    item_row,
    user_from_props,
    user_row,
)

if TYPE_CHECKING:  # numpy is imported where used: a CLI's start-up does not need it
    import numpy as np

Rows = list[Sequence[Any]]

# What `degree` counts; a store whose meta record says otherwise gets its degrees recounted once.
_DEGREE_RULE_KEY = "graph.degree_rule"
_DEGREE_RULE = "positive-edges"
_EMBEDDING_BATCH = 2_000  # vectors per write: a batch of 64-float rows stays a few MB


class CypherStore(ABC):
    """The shared part of a :class:`~graphrec.graph.port.GraphStore` adapter over Cypher."""

    _q: ClassVar[Statements]
    _dialect: ClassVar[Dialect]

    def __init__(self, *, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._batch = batch_size

    # -- primitives ------------------------------------------------------------------------------
    @abstractmethod
    def _read(self, query: str, params: Mapping[str, Any] | None = None) -> Rows:
        """A read-only statement's rows (none where the graph does not exist yet)."""

    @abstractmethod
    def _write(self, query: str, params: Mapping[str, Any] | None = None) -> Rows:
        """A statement that may write, as one atomic unit; its rows."""

    def _read_bulk(self, query: str, params: Mapping[str, Any] | None = None) -> Rows:
        """A read of many plain values (ids, numbers), where the store has a cheaper reply format;
        the values may come as strings that ``float``/``int`` parse."""
        return self._read(query, params)

    # -- what differs per store ------------------------------------------------------------------
    @abstractmethod
    def _upsert_guarded(self, rows: list[dict[str, Any]], guard: BatchGuard) -> int:
        """Apply delta ``rows`` only if ledger ``guard.key`` expects ``guard.seq``: one transaction."""

    @abstractmethod
    def _write_once(
        self, deltas: Sequence[InteractionDelta], events: Sequence[EventKey], now_ms: int
    ) -> EventWriteResult:
        """The exactly-once event write (keys distinct and non-empty): one transaction."""

    @abstractmethod
    def _prepare_vector_index(self, label: NodeLabel, dim: int) -> None:
        """Make ``label``'s vector index take vectors of ``dim`` floats (re-create one that differs)."""

    def _vector_index_built(self, label: NodeLabel) -> None:  # noqa: B027 - optional: Neo4j's is built at creation
        """Return once ``label``'s vector index covers the vectors just written."""

    def _batches(self, rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, len(rows), self._batch):
            yield rows[start : start + self._batch]

    def _delta_rows(self, deltas: Sequence[InteractionDelta]) -> list[dict[str, Any]]:
        # One row per (user, item): a pair named twice in one call is folded first by the edge rule's
        # own fold (the same edge as writing both in turn). Neo4j's statement finds a user's row for an
        # edge by item id, and FalkorDB's MERGE, given one new pair twice, counted its degree twice.
        if len({(d.user_id, d.item_id) for d in deltas}) < len(deltas):
            deltas = fold(deltas)
        rows = [delta_row(d) for d in deltas]
        if self._dialect.row_locks:  # concurrent batches then lock nodes in the same order
            rows.sort(key=lambda r: (r["u"], r["i"]))
        return rows

    def _upsert_params(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """The parameters of ``UPSERT_INTERACTIONS`` for one batch of delta rows."""
        return {"rows": rows}

    # -- catalogue -------------------------------------------------------------------------------
    def upsert_users(self, users: Sequence[UserRecord]) -> int:
        rows = [user_row(u) for u in users]
        for batch in self._batches(rows):
            self._write(self._q.UPSERT_USERS, {"rows": batch})
        return len(rows)

    def upsert_items(self, items: Sequence[ItemRecord], *, now_ms: int | None = None) -> int:
        rows = [item_row(it) for it in items]
        now = clock.now_ms() if now_ms is None else int(now_ms)
        for batch in self._batches(rows):
            self._write(self._q.UPSERT_ITEMS, {"rows": batch, "now": now})
        return len(rows)

    def replace_items(self, items: Sequence[CatalogueItem], *, now_ms: int | None = None) -> int:
        ids = [it.id for it in items]
        if len(set(ids)) != len(ids):
            raise BadStoreInput("item ids must be distinct within one catalogue upsert")
        if not items:
            return 0
        # ONE statement whatever the size (callers bound it): all or nothing.
        now = clock.now_ms() if now_ms is None else int(now_ms)
        rows = self._write(self._q.REPLACE_ITEMS, {"rows": [catalogue_row(it) for it in items], "now": now})
        return int(rows[0][0]) if rows else 0

    def get_items(self, *, item_ids: Sequence[str]) -> list[CatalogueItem]:
        ids = sorted(set(item_ids))
        if not ids:
            return []
        rows = self._read(self._q.ITEMS_BY_ID, {"ids": ids, "limit": len(ids)})
        return [catalogue_item_from_row(r) for r in rows]

    def list_items(self, *, after: str = "", limit: int = 50, category: str | None = None) -> list[CatalogueItem]:
        if category is None:
            rows = self._read(self._q.LIST_ITEMS, {"after": after, "limit": int(limit)})
        else:
            rows = self._read(
                self._q.LIST_ITEMS_IN_CATEGORY, {"after": after, "limit": int(limit), "category": category}
            )
        return [catalogue_item_from_row(r) for r in rows]

    def category_sizes(self) -> list[tuple[str, int]]:
        return [(str(r[0]), int(r[1])) for r in self._read(self._q.CATEGORY_SIZES)]

    def items_not_in_catalogue(self, *, item_ids: Sequence[str]) -> frozenset[str]:
        ids = sorted(set(item_ids))
        if not ids:
            return frozenset()
        return frozenset(str(r[0]) for r in self._read_bulk(self._q.ITEMS_NOT_IN_CATALOGUE, {"ids": ids}))

    def item_exists(self, *, item_id: str) -> bool:
        rows = self._read(self._q.ITEM_EXISTS, {"id": item_id})
        return bool(rows and rows[0][0])

    def iter_users(self, *, page_size: int = 50_000) -> Iterator[list[UserRecord]]:
        yield from paging.page_users(self._read, self._q.PAGE_USERS, page_size=page_size)

    def iter_items(self, *, page_size: int = 50_000) -> Iterator[ItemPage]:
        yield from paging.page_items(self._read_bulk, self._q.PAGE_ITEMS, page_size=page_size)

    # -- interactions ----------------------------------------------------------------------------
    def upsert_interactions(self, deltas: Sequence[InteractionDelta], *, guard: BatchGuard | None = None) -> int:
        rows = self._delta_rows(deltas)
        if guard is not None:
            return self._upsert_guarded(rows, guard)
        written = 0
        for batch in self._batches(rows):
            result = self._write(self._q.UPSERT_INTERACTIONS, self._upsert_params(batch))
            written += int(result[0][0]) if result else 0
        return written

    def upsert_interactions_once(
        self, deltas: Sequence[InteractionDelta], *, events: Sequence[EventKey], now_ms: int
    ) -> EventWriteResult:
        keys = [e.key for e in events]
        if len(set(keys)) != len(keys):
            raise BadStoreInput("event keys must be distinct within one write")
        if not keys:
            if deltas:
                raise BadStoreInput("deltas need the events they come from")
            return EventWriteResult(applied=True)
        return self._write_once(deltas, events, int(now_ms))

    def user_interactions(self, *, user_id: str, limit: int = 50) -> list[Interaction]:
        rows = self._read(self._q.USER_INTERACTIONS, {"id": user_id, "limit": int(limit)})
        return [interaction_from_props(user_id, r[0], r[1]) for r in rows]

    def user_history(self, *, user_id: str, limit: int = 200) -> UserHistory:
        return history_from_rows(self._read_bulk(self._q.USER_HISTORY, {"id": user_id, "limit": int(limit)}))

    def user_item_ids(self, *, user_id: str) -> frozenset[str]:
        return frozenset(str(r[0]) for r in self._read_bulk(self._q.USER_ITEM_IDS, {"id": user_id}))

    def _recount_degrees_once(self) -> None:
        """Stores written before ``degree`` counted positive edges only get it recounted, once."""
        if self.get_meta(key=_DEGREE_RULE_KEY) == _DEGREE_RULE:
            return
        self._write(self._q.RECOUNT_ITEM_DEGREES)
        self._write(self._q.RECOUNT_USER_DEGREES)
        self.set_meta(key=_DEGREE_RULE_KEY, value=_DEGREE_RULE)

    def co_interaction_candidates_for_user(
        self,
        *,
        user_id: str,
        limit: int = 100,
        seed_items: int = 20,
        fanout: int = 50,
        co_items: int = 400,
        now_ms: int,
        half_life_days: float,
    ) -> list[Candidate]:
        rows = self._read(
            self._q.USER_CANDIDATES,
            {
                "id": user_id,
                "limit": int(limit),
                "seeds": int(seed_items),
                "fanout": int(fanout),
                "co_items": int(co_items),
                "now": int(now_ms),
                "half_life_ms": float(half_life_days) * DAY_MS,
            },
        )
        return [Candidate(item_id=r[0], score=float(r[1]), evidence=tuple(r[2])) for r in rows]

    def co_interaction_candidates_for_item(self, *, item_id: str, limit: int = 50, fanout: int = 50) -> list[Candidate]:
        rows = self._read(self._q.ITEM_CANDIDATES, {"id": item_id, "limit": int(limit), "fanout": int(fanout)})
        return [Candidate(item_id=r[0], score=float(r[1]), evidence=(item_id,)) for r in rows]

    def iter_interactions(self, *, page_size: int = 50_000, since_ms: int | None = None) -> Iterator[InteractionPage]:
        yield from paging.page_interactions(
            self._read_bulk,
            user_ids_query=self._q.PAGE_USER_IDS,
            edges_query=self._q.EDGES_OF_USERS,
            counts=self.counts(),
            page_size=page_size,
            since_ms=since_ms,
        )

    def iter_trending_edges(self, *, page_size: int = 50_000, since_ms: int | None = None) -> Iterator[InteractionPage]:
        yield from paging.page_interactions(
            self._read_bulk,
            user_ids_query=self._q.PAGE_USER_IDS,
            edges_query=self._q.TRENDING_EDGES_OF_USERS,
            counts=self.counts(),
            page_size=page_size,
            since_ms=since_ms,
            with_clients=True,
        )

    def iter_basket_edges(self, *, page_size: int = 50_000, since_ms: int | None = None) -> Iterator[InteractionPage]:
        yield from paging.page_interactions(
            self._read_bulk,
            user_ids_query=self._q.PAGE_USER_IDS,
            edges_query=self._q.BASKET_EDGES_OF_USERS,
            counts=self.counts(),
            page_size=page_size,
            since_ms=since_ms,
            with_clients=True,
        )

    # -- identity --------------------------------------------------------------------------------
    def get_user(self, *, user_id: str) -> UserRecord | None:
        rows = self._read(self._q.GET_USER, {"id": user_id})
        return user_from_props(user_id, rows[0][0]) if rows else None

    def user_exists(self, *, user_id: str) -> bool:
        rows = self._read(self._q.USER_EXISTS, {"id": user_id})
        return bool(rows and rows[0][0])

    def merge_users(self, *, source_id: str, target_id: str) -> bool:
        if source_id == target_id:
            raise BadStoreInput("cannot merge a user into itself")
        rows = self._write(self._q.MERGE_USERS, {"src": source_id, "dst": target_id})
        return bool(rows and rows[0][0])

    def erase_user(self, *, user_id: str) -> bool:
        rows = self._write(self._q.ERASE_USER, {"id": user_id})
        return bool(rows and rows[0][0])

    def compact_history(self, *, timeout_s: float) -> bool | None:
        return None  # adapters with a history file graphrec may rewrite override this

    # -- publication -----------------------------------------------------------------------------
    def write_embeddings(self, *, label: NodeLabel, ids: Sequence[str], vectors: np.ndarray, model_version: str) -> int:
        import numpy as np

        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise BadStoreInput(f"vectors must be a 2-D array, got shape {vectors.shape}")
        if len(ids) != len(vectors):
            raise BadStoreInput(f"{len(ids)} ids but {len(vectors)} vectors")
        self._prepare_vector_index(label, int(vectors.shape[1]))
        query = self._q.WRITE_ITEM_EMBEDDINGS if label == "Item" else self._q.WRITE_USER_EMBEDDINGS
        written = 0
        step = max(1, min(self._batch, _EMBEDDING_BATCH))
        for start in range(0, len(ids), step):
            rows = [
                {"id": i, "v": v}
                for i, v in zip(ids[start : start + step], vectors[start : start + step].tolist(), strict=True)
            ]
            result = self._write(query, {"rows": rows, "version": model_version})
            written += int(result[0][0]) if result else 0
        self._vector_index_built(label)
        return written

    def set_meta(self, *, key: str, value: str) -> None:
        self._write(self._q.SET_META, {"key": key, "value": value})

    def get_meta(self, *, key: str) -> str | None:
        rows = self._read(self._q.GET_META, {"key": key})
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    # -- bookkeeping -----------------------------------------------------------------------------
    def ledger_position(self, key: str) -> int:
        rows = self._read(self._q.LEDGER_POSITION, {"key": key})
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def ledger_complete(self, key: str, *, rows: int) -> None:
        self._write(self._q.LEDGER_COMPLETE, {"key": key, "rows": int(rows), "now": clock.now_ms()})

    def ledger_is_complete(self, key: str) -> bool:
        rows = self._read(self._q.LEDGER_POSITION, {"key": key})
        return bool(rows and rows[0][1])

    def expire_event_ids(self, *, before_ms: int) -> int:
        total = 0
        while True:  # a chunk at a time: (records deleted, event keys they held)
            rows = self._write(self._q.EXPIRE_EVENT_IDS, {"before": int(before_ms), "limit": self._batch})
            records, keys = (int(rows[0][0]), int(rows[0][1] or 0)) if rows else (0, 0)
            total += keys
            if records < self._batch:
                return total

    def iter_interaction_aggregates(self, *, page_size: int = 50_000) -> Iterator[list[Interaction]]:
        yield from paging.page_aggregates(
            self._read,
            user_ids_query=self._q.PAGE_USER_IDS,
            aggregates_query=self._q.EDGE_AGGREGATES_OF_USERS,
            counts=self.counts(),
            page_size=page_size,
        )

    def set_interaction_weights(self, rows: Sequence[WeightUpdate]) -> list[tuple[str, str]]:
        params = [
            {
                "u": r.user_id,
                "i": r.item_id,
                "w": float(r.weight),
                "c": int(r.expected_count),
                "x": cap_param(r.weight_cap),
            }
            for r in rows
        ]
        updated: set[tuple[str, str]] = set()
        for batch in self._batches(params):
            updated.update((r[0], r[1]) for r in self._write(self._q.SET_INTERACTION_WEIGHTS, {"rows": batch}))
        return [(r.user_id, r.item_id) for r in rows if (r.user_id, r.item_id) not in updated]

    # -- segments --------------------------------------------------------------------------------
    def replace_segments(
        self, *, segments: Sequence[SegmentRecord], members: Sequence[tuple[str, str]], computed_ms: int
    ) -> int:
        names = [seg.name for seg in segments]
        if len(set(names)) != len(names):
            raise BadStoreInput("segment names must be distinct")
        users = [u for u, _ in members]
        if len(set(users)) != len(users):
            raise BadStoreInput("a user may be in one segment only")
        unknown = sorted({name for _, name in members} - set(names))
        if unknown:
            raise BadStoreInput(f"members of unknown segment(s): {', '.join(unknown[:5])}")
        run = int(computed_ms)
        rows = [
            {
                "name": seg.name,
                "size": int(seg.size),
                "centroid": [float(v) for v in seg.centroid],
                "features": list(seg.features),
                "rule": seg.rule,
            }
            for seg in segments
        ]
        if rows:
            self._write(self._q.UPSERT_SEGMENTS, {"rows": rows, "run": run})
        written = 0
        # sorted by user: concurrent writers (where rows lock) take their locks in one order
        for batch in self._batches([{"id": u, "name": name} for u, name in sorted(members)]):
            result = self._write(self._q.MERGE_SEGMENT_MEMBERS, {"rows": batch, "run": run})
            written += int(result[0][0]) if result else 0
        while True:  # a chunk at a time: a large previous segmentation is not one huge transaction
            result = self._write(self._q.DROP_STALE_MEMBERSHIPS, {"run": run, "limit": self._batch})
            if not result or int(result[0][0]) < self._batch:
                break
        self._write(self._q.DROP_STALE_SEGMENTS, {"run": run})
        self._write(self._q.RECOUNT_SEGMENT_SIZES)
        self.set_meta(key=SEGMENTATION_META_KEY, value=str(run))
        return written

    def segments(self) -> list[SegmentRecord]:
        return [
            SegmentRecord(
                name=str(r[0]),
                size=int(r[1] or 0),
                centroid=tuple(float(v) for v in r[2] or ()),
                features=tuple(str(f) for f in r[3] or ()),
                rule=str(r[4] or ""),
                computed_ms=int(r[5] or 0),
            )
            for r in self._read(self._q.SEGMENTS)
        ]

    def user_segment(self, *, user_id: str) -> str | None:
        rows = self._read(self._q.USER_SEGMENT, {"id": user_id})
        return str(rows[0][0]) if rows else None

    def iter_segment_members(self, *, page_size: int = 50_000) -> Iterator[list[tuple[str, str]]]:
        after = ""
        while True:
            rows = self._read_bulk(self._q.PAGE_SEGMENT_MEMBERS, {"after": after, "limit": int(page_size)})
            if not rows:
                return
            page: dict[str, str] = {}
            for user, name, _ in rows:  # newest membership first per user
                page.setdefault(str(user), str(name))
            yield list(page.items())
            if len(rows) < page_size:
                return
            after = str(rows[-1][0])

    # -- lifecycle -------------------------------------------------------------------------------
    def counts(self) -> GraphCounts:
        rows = self._read(self._q.COUNTS)
        users, items, categories, interactions = (int(v) for v in rows[0]) if rows else (0, 0, 0, 0)
        return GraphCounts(users=users, items=items, categories=categories, interactions=interactions)
