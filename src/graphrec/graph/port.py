"""The GraphStore port: everything the rest of graphrec may ask of the graph database.

Every adapter (Neo4j, FalkorDB) implements this protocol and passes the same contract tests
(``tests/graph/test_contract.py``). Methods are keyword-only where arguments could be confused,
batched where they write, and return domain records from ``graphrec.graph.records``.

Failures: any method may raise :class:`graphrec.graph.errors.StoreUnavailable` when the store
cannot be reached or does not answer in time (the API answers 503 with ``Retry-After``); a write
that raises it applied entirely or not at all. Other exceptions are bad input or bugs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

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


class HistoryReader(Protocol):
    """Awaitable reads of a user's recent edges, without blocking the event loop."""

    async def user_history(self, *, user_id: str, limit: int = 200) -> UserHistory: ...

    async def user_item_ids(self, *, user_id: str) -> frozenset[str]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class GraphStore(Protocol):
    """Port over the interaction graph ``(:User)-[:INTERACTED]->(:Item)-[:IN_CATEGORY]->(:Category)``."""

    def apply_schema(self) -> None:
        """Create constraints and indexes; safe to run any number of times."""

    def upsert_users(self, users: Sequence[UserRecord]) -> int:
        """Create or update users (properties are merged, never removed); returns rows written."""

    def upsert_items(self, items: Sequence[ItemRecord]) -> int:
        """Create or update items, their categories and ``IN_CATEGORY`` links; returns rows written."""

    def upsert_interactions(
        self, deltas: Sequence[InteractionDelta], *, guard: BatchGuard | None = None
    ) -> int:
        """Add deltas to ``INTERACTED`` edges (creating users, items and edges as needed).

        Aggregates add up: ``weight``, ``count``, per-type counts and value sums; ``first_ts`` and
        ``last_ts`` widen. With a ``guard`` the whole batch is applied only if the ledger expects it;
        returns the number of edges written (0 when the guard refused a replayed batch).
        """

    def ledger_position(self, key: str) -> int:
        """Next batch number ledger ``key`` expects (0 for a new key)."""

    def ledger_complete(self, key: str, *, rows: int) -> None:
        """Mark ledger ``key`` finished, so a later run of the same input is a no-op."""

    def ledger_is_complete(self, key: str) -> bool:
        """Whether ledger ``key`` was marked complete."""

    def user_interactions(self, *, user_id: str, limit: int = 50) -> list[Interaction]:
        """A user's edges, most recent first."""

    def user_history(self, *, user_id: str, limit: int = 200) -> UserHistory:
        """A user's ``limit`` most recent edges as (item id, weight, last_ts) columns; the serving read."""

    def user_item_ids(self, *, user_id: str) -> frozenset[str]:
        """Every item the user interacted with, however many: what ``exclude_seen`` filters out."""

    def history_reader(self, *, concurrency: int = 100) -> HistoryReader:
        """``user_history`` for an event loop (the API's per-request read); ``aclose`` it when done.

        ``concurrency``: reads it must serve at once without refusing any (the API's concurrency
        limit), so a full connection pool never turns into an "unavailable" answer."""

    def user_exists(self, *, user_id: str) -> bool: ...

    def item_exists(self, *, item_id: str) -> bool: ...

    def co_interaction_candidates_for_user(
        self,
        *,
        user_id: str,
        limit: int = 100,
        seed_items: int = 20,
        fanout: int = 50,
        now_ms: int,
        half_life_days: float,
    ) -> list[Candidate]:
        """Items reached by user -> item -> other user -> item paths, capped at every hop.

        The user's ``seed_items`` most recent items start the walk; each contributes at most
        ``fanout`` co-users and each co-user at most ``fanout`` items. A path scores
        ``decay(w_seed) * w_co / sqrt(deg(seed) * deg(candidate))``; the user's own items are excluded.
        """

    def co_interaction_candidates_for_item(
        self, *, item_id: str, limit: int = 50, fanout: int = 50
    ) -> list[Candidate]:
        """Items sharing users with ``item_id``, degree-normalised, fan-out capped."""

    def iter_users(self, *, page_size: int = 50_000) -> Iterator[list[UserRecord]]: ...

    def iter_items(self, *, page_size: int = 50_000) -> Iterator[ItemPage]: ...

    def iter_interactions(
        self, *, page_size: int = 50_000, since_ms: int | None = None
    ) -> Iterator[InteractionPage]:
        """All edges, paged by user id (a stable cursor), optionally only those with ``last_ts >= since``."""

    def write_embeddings(
        self, *, label: NodeLabel, ids: Sequence[str], vectors: np.ndarray, model_version: str
    ) -> int:
        """Store ``embedding`` and ``model_version`` on nodes, creating the vector index if needed."""

    def similar_by_embedding(
        self, *, label: NodeLabel, vector: np.ndarray, k: int
    ) -> list[tuple[str, float]]:
        """Nearest nodes by cosine similarity through the store's vector index, best first."""

    def get_embedding(self, *, label: NodeLabel, node_id: str) -> np.ndarray | None: ...

    def set_meta(self, *, key: str, value: str) -> None:
        """Store a small string on the graph's ``(:Meta)`` node (e.g. the published model version)."""

    def get_meta(self, *, key: str) -> str | None: ...

    def delete_user(self, *, user_id: str) -> bool:
        """Remove the user node, their edges and anything stored about them; False if absent."""

    def merge_users(self, *, source_id: str, target_id: str) -> bool:
        """Move all of ``source_id``'s edges onto ``target_id`` (aggregates add up) and delete the source.

        Idempotent: merging a source that no longer exists returns False and changes nothing.
        """

    def counts(self) -> GraphCounts: ...

    def ping(self) -> bool:
        """Whether the store answers right now (used by readiness checks)."""

    def recover(self) -> bool:
        """Make the store reachable again where graphrec owns it (restart a dead embedded server),
        then ping; the API's store watchdog calls it while the store does not answer."""

    def clear(self) -> None:
        """Delete every node and edge (tests and ``graphrec init --reset``)."""

    def run_cypher(self, query: str, params: Mapping[str, Any] | None = None, *,
                   write: bool = False) -> CypherResult:
        """An analyst's own statement with bound parameters (``graphrec cypher``); read-only unless
        ``write``. The text is the analyst's to write; values never go into it, only into ``params``."""
        ...

    def close(self) -> None: ...

    # -- behaviour events (graphrec.events; issue 3) ---------------------------------------------
    def upsert_interactions_once(
        self, deltas: Sequence[InteractionDelta], *, events: Sequence[EventKey], now_ms: int
    ) -> EventWriteResult:
        """Apply ``deltas`` and record ``events`` as seen, exactly once, in ONE atomic write.

        The write happens only if none of ``events``' keys is recorded yet and no user named in
        ``events`` or ``deltas`` has ``consent = false``. Then every key is recorded with its user and
        ``now_ms`` (Neo4j: ``(:EventId {key, user, at})`` per event; FalkorDB: one
        ``(:EventKeys {user, keys, at})`` per user per write) and the deltas are added exactly as
        :meth:`upsert_interactions` adds them. Otherwise nothing is written and the result lists the
        keys already recorded and the refusing users. Keys must be distinct, and ``events`` non-empty
        when ``deltas`` is (``ValueError``); no events and no deltas is a no-op reporting ``applied``.
        """

    def iter_interaction_aggregates(self, *, page_size: int = 50_000) -> Iterator[list[Interaction]]:
        """Every edge with its per-type aggregates (``type_counts``, ``value_sums``), paged by user id;
        a page holds whole users, pages come in ascending user id order."""

    def set_interaction_weights(self, rows: Sequence[WeightUpdate]) -> list[tuple[str, str]]:
        """Set ``weight`` on existing edges whose ``count`` still equals ``expected_count``.

        Returns the ``(user_id, item_id)`` pairs NOT updated (edge gone, or a concurrent write changed
        its count): the caller re-reads and retries those. Never creates nodes or edges.
        """

    def reassign_event_ids(self, *, source_id: str, target_id: str) -> int:
        """Re-own the seen-event records of ``source_id`` to ``target_id`` (identity merge); keys stay."""

    def erase_event_ids(self, *, user_id: str) -> int:
        """Delete every seen-event record owned by ``user_id`` (erasure); returns how many."""

    def expire_event_ids(self, *, before_ms: int) -> int:
        """Delete seen-event records created before ``before_ms`` (retention); returns how many."""

    def get_user(self, *, user_id: str) -> UserRecord | None:
        """The user's properties (without ``id`` and ``embedding``), or None if absent."""


@dataclass(frozen=True, slots=True)
class EventKey:
    """One event's duplicate-detection key and the user (graph node id) who owns the record."""

    key: str
    user_id: str


@dataclass(frozen=True, slots=True)
class EventWriteResult:
    """Outcome of :meth:`GraphStore.upsert_interactions_once`."""

    applied: bool
    existing: tuple[str, ...] = ()
    refused_users: tuple[str, ...] = ()
    edges: int = 0


@dataclass(frozen=True, slots=True)
class WeightUpdate:
    """New ``weight`` for edge (user, item), valid while the edge's ``count`` is still ``expected_count``."""

    user_id: str
    item_id: str
    weight: float
    expected_count: int
