"""The graph store ports: what the rest of graphrec may ask of the graph database, facet by facet.

The graph: users, items and categories, and per (user, item) one interaction edge carrying its
aggregates (``weight``, ``count``, ``first_ts``, ``last_ts``, per-type counts and value sums).

Each facet is a small protocol a caller can be typed with when it needs only that facet;
:class:`GraphStore` is all of them, which every adapter (Neo4j, FalkorDB) implements and proves
with the same contract tests (``tests/graph/test_contract*.py``). Methods are keyword-only where
arguments could be confused, batched where they write, and return domain records from
``graphrec.graph.records``. How a store lays any of this out is the adapter's business.

Failures (``graphrec.graph.errors``): any method may raise :class:`~graphrec.graph.errors.StoreUnavailable`
when the store cannot be reached or does not answer in time (the API answers 503 with
``Retry-After``); a write that raises it applied entirely or not at all. A refused argument raises
:class:`~graphrec.graph.errors.BadStoreInput` (a ``ValueError``). Other exceptions are bugs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from graphrec.graph.records import (
    BatchGuard,
    Candidate,
    CatalogueItem,
    CypherResult,
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

if TYPE_CHECKING:  # annotations only: importing the ports must not cost a CLI's start-up numpy
    import numpy as np

SEGMENTATION_META_KEY = "segments.computed_ms"
"""The :class:`ModelPublication` meta key holding the ``computed_ms`` of the segmentation in the graph
(set last by :meth:`SegmentStore.replace_segments`): a reader that sees it change reloads the members."""


class HistoryReader(Protocol):
    """Awaitable reads of a user's recent edges, without blocking the event loop."""

    async def user_history(self, *, user_id: str, limit: int = 200) -> UserHistory: ...

    async def user_item_ids(self, *, user_id: str) -> frozenset[str]: ...

    async def aclose(self) -> None: ...


class InteractionStore(Protocol):
    """The interaction edges: written as deltas, read per user, paged for export, traversed."""

    def upsert_interactions(self, deltas: Sequence[InteractionDelta], *, guard: BatchGuard | None = None) -> int:
        """Add deltas to the (user, item) edges, creating users, items and edges as needed.

        Aggregates add up: ``weight``, ``count``, per-type counts and value sums; ``first_ts`` and
        ``last_ts`` widen. With a ``guard`` the whole batch is applied only if the ledger expects it;
        returns the number of edges written (0 when the guard refused a replayed batch). Without one
        a batch is additive: a retried batch whose first attempt committed is applied twice.
        """

    def upsert_interactions_once(
        self, deltas: Sequence[InteractionDelta], *, events: Sequence[EventKey], now_ms: int
    ) -> EventWriteResult:
        """Apply ``deltas`` and remember ``events`` as seen, exactly once, in ONE atomic write.

        The write happens only if none of ``events``' keys was seen yet and no user named in
        ``events`` or ``deltas`` has ``consent = false``. Then every key is remembered for its user
        at ``now_ms`` (until :meth:`Bookkeeping.expire_event_ids`, a merge or an erasure) and the
        deltas are added exactly as :meth:`upsert_interactions` adds them. Otherwise nothing is
        written and the result lists the keys already seen (with the fingerprint each was recorded
        with, where it had one: the caller tells a retry from a conflicting reuse) and the refusing
        users. Each key's fingerprint, when given, is remembered with it. Keys must be
        distinct, and ``events`` non-empty when ``deltas`` is (``BadStoreInput``); no events and no
        deltas is a no-op reporting ``applied``.
        """

    def user_interactions(self, *, user_id: str, limit: int = 50) -> list[Interaction]:
        """A user's edges, most recent first (ties by item id)."""

    def user_history(self, *, user_id: str, limit: int = 200) -> UserHistory:
        """A user's ``limit`` most recent edges as (item id, weight, last_ts) columns; the serving read."""

    def user_item_ids(self, *, user_id: str) -> frozenset[str]:
        """Every item the user interacted with, however many: what ``exclude_seen`` filters out."""

    def history_reader(self, *, concurrency: int = 100) -> HistoryReader:
        """``user_history`` for an event loop (the API's per-request read); ``aclose`` it when done.

        ``concurrency``: reads it must serve at once without refusing any (the API's concurrency
        limit), so a full connection pool never turns into an "unavailable" answer."""

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
        """The capped traversal of :mod:`graphrec.scoring.traversal` (rules 1-6) for one user, best
        first: seeds are the user's ``seed_items`` most recent liked items decayed from ``now_ms`` (pass
        the user's newest edge), ``fanout`` caps both hops, ``co_items`` the co-items kept per seed."""

    def co_interaction_candidates_for_item(self, *, item_id: str, limit: int = 50, fanout: int = 50) -> list[Candidate]:
        """Items sharing likers with ``item_id``: ``w(v, s) * w(v, c) / sqrt(deg(s) * deg(c))`` over its
        ``fanout`` strongest likers and each one's ``fanout`` strongest edges, positive totals only."""

    def iter_interactions(self, *, page_size: int = 50_000, since_ms: int | None = None) -> Iterator[InteractionPage]:
        """All edges in pages of about ``page_size``, each edge once, optionally only those with
        ``last_ts >= since_ms``; the order of edges within a page is unspecified."""

    def iter_trending_edges(self, *, page_size: int = 50_000, since_ms: int | None = None) -> Iterator[InteractionPage]:
        """:meth:`iter_interactions` for trending: only edges of items a catalogue described (never of a
        ``provisional`` one: anyone can create those by sending events), with ``clients`` filled (each
        edge's latest sender, "" for a trusted one or an edge written before senders were recorded)."""

    def iter_basket_edges(self, *, page_size: int = 50_000, since_ms: int | None = None) -> Iterator[InteractionPage]:
        """The edges "frequently bought together" counts, with :meth:`iter_trending_edges`'s rule for
        provisional items and its ``clients``: those whose actor bought or carted the item (a per-type
        count ``n_purchase`` or ``n_add_to_cart`` above 0) and whose weight is positive (a purchase
        followed by a dislike no longer recommends anything)."""


class IdentityStore(Protocol):
    """Who a user is: their recorded properties (consent among them), merging identities, erasure."""

    def get_user(self, *, user_id: str) -> UserRecord | None:
        """The user's properties (without ``id`` and the embedding), or None if absent."""

    def user_exists(self, *, user_id: str) -> bool: ...

    def merge_users(self, *, source_id: str, target_id: str) -> bool:
        """Make ``source_id``'s history ``target_id``'s, atomically: its edges move onto the target's
        (aggregates add up, the target is created if missing), the events seen for it count as the
        target's (so a replay is still a duplicate, and erasing the target forgets them), and the
        source is deleted. True if a source user existed.

        Idempotent: merging again finds no source and changes nothing. Merging a user into itself is
        refused (``BadStoreInput``).
        """

    def erase_user(self, *, user_id: str) -> bool:
        """Forget the user, atomically: the node, its edges (item degrees follow), its embedding, its
        properties and the events seen for it. True if a user node existed; run again it is a no-op."""

    def compact_history(self, *, timeout_s: float) -> bool | None:
        """Rewrite the store's own record of past writes so erased data leaves its files too (the
        embedded FalkorDB's append-only file holds every write's parameters until it is rewritten),
        waiting at most ``timeout_s``; True when rewritten, False when it did not finish in time (or
        failed: the caller tries again), None where the store keeps no such file graphrec can rewrite
        (Neo4j's transaction logs are pruned by its own retention policy)."""


class CatalogueStore(Protocol):
    """Users and items as records: upserted with their properties (items with categories), paged;
    and the catalogue API's view of items (descriptive fields replaced as a whole, listed by id)."""

    def upsert_users(self, users: Sequence[UserRecord]) -> int:
        """Create or update users (properties are merged, never removed); returns rows written."""

    def upsert_items(self, items: Sequence[ItemRecord], *, now_ms: int | None = None) -> int:
        """Create or update items with their categories; returns rows written. An item described for
        the first time is listed at ``now_ms`` (the wall clock when None; see :meth:`replace_items`)."""

    def item_exists(self, *, item_id: str) -> bool: ...

    def replace_items(self, items: Sequence[CatalogueItem], *, now_ms: int | None = None) -> int:
        """The catalogue API's upsert, ALL OR NOTHING in one write: each item is created if missing,
        its descriptive fields (title, url, image_url, price, currency, available; None removes one)
        and its category set become exactly these, and it is no longer ``provisional``. Interactions,
        degrees and embeddings are left alone. Ids must be distinct (``BadStoreInput``); callers
        bound the batch (the API: 1,000 items). Returns the number of items written.

        An item no catalogue described before gets its first-listed time, ``now_ms`` (the wall clock
        when None): :attr:`~graphrec.graph.records.ItemPage.listed_ms`, what new arrivals are ranked
        by. Later upserts and imports never change it."""

    def get_items(self, *, item_ids: Sequence[str]) -> list[CatalogueItem]:
        """The items among ``item_ids`` that exist, ascending by id (absent ids are left out)."""

    def list_items(self, *, after: str = "", limit: int = 50, category: str | None = None) -> list[CatalogueItem]:
        """Up to ``limit`` items with ids above ``after``, ascending by id; only those in ``category``
        when one is given (none, for a category no item is in)."""

    def category_sizes(self) -> list[tuple[str, int]]:
        """Every category that holds at least one item, with how many, ascending by name."""

    def items_not_in_catalogue(self, *, item_ids: Sequence[str]) -> frozenset[str]:
        """The ids among ``item_ids`` no catalogue described: no such item, or one an event created
        (``provisional``). Items are never deleted, so an id known once stays known."""

    def iter_users(self, *, page_size: int = 50_000) -> Iterator[list[UserRecord]]:
        """Every user, in pages, ascending by id."""

    def iter_items(self, *, page_size: int = 50_000) -> Iterator[ItemPage]:
        """Every item with its sorted categories, in pages, ascending by id."""


class ModelPublication(Protocol):
    """What a publish leaves in the store for others to read: node embeddings, searchable by
    similarity (for analysts' queries), and small named values such as the published model version."""

    def write_embeddings(self, *, label: NodeLabel, ids: Sequence[str], vectors: np.ndarray, model_version: str) -> int:
        """Store each node's embedding and ``model_version``; returns nodes written (absent ids are
        skipped). When it returns, the store's cosine vector index over ``label`` answers with
        vectors of this width, every written node included."""

    def set_meta(self, *, key: str, value: str) -> None:
        """Remember a small string under ``key`` (e.g. the published model version)."""

    def get_meta(self, *, key: str) -> str | None: ...


class Bookkeeping(Protocol):
    """The records that make writes exactly-once and keep weights current: the import ledger,
    seen-event retention, and the reweigh's read-modify-write of edge weights."""

    def ledger_position(self, key: str) -> int:
        """Next batch number ledger ``key`` expects (0 for a new key)."""

    def ledger_complete(self, key: str, *, rows: int) -> None:
        """Mark ledger ``key`` finished, so a later run of the same input is a no-op."""

    def ledger_is_complete(self, key: str) -> bool:
        """Whether ledger ``key`` was marked complete."""

    def expire_event_ids(self, *, before_ms: int) -> int:
        """Forget the events seen before ``before_ms`` (retention); returns how many."""

    def iter_interaction_aggregates(self, *, page_size: int = 50_000) -> Iterator[list[Interaction]]:
        """Every edge with its per-type aggregates (``type_counts``, ``value_sums``), paged by user id;
        a page holds whole users, pages come in ascending user id order."""

    def set_interaction_weights(self, rows: Sequence[WeightUpdate]) -> list[tuple[str, str]]:
        """Set the raw weight sum (and the weight, saturated at the cap) on existing edges whose
        ``count`` still equals ``expected_count``.

        Returns the ``(user_id, item_id)`` pairs NOT updated (edge gone, or a concurrent write changed
        its count): the caller re-reads and retries those. Never creates nodes or edges.
        """


class SegmentStore(Protocol):
    """Behavioural segments for analysts and the API: ``(:Segment)`` nodes and ``(:User)-[:IN_SEGMENT]->(:Segment)``
    edges, replaced whole by each segmentation (``graphrec segment``)."""

    def replace_segments(
        self, *, segments: Sequence[SegmentRecord], members: Sequence[tuple[str, str]], computed_ms: int
    ) -> int:
        """Make ``segments`` and ``members`` (``(user id, segment name)``) the graph's segmentation; returns the
        membership edges written (members whose user is not in the graph get none).

        Refused whole (``BadStoreInput``) before anything is written: duplicate segment names, a user listed
        twice, a member of a segment not in ``segments``. The replacement runs in steps, each atomic and
        idempotent, tagged with ``computed_ms`` (each run needs a new one): the segments are upserted by
        name, the members' edges merged in batches, then every edge and segment of another run is deleted,
        the sizes are recounted from the edges, and last :data:`SEGMENTATION_META_KEY` is set to
        ``computed_ms``. While it runs a user may be in their old and their new segment; readers that
        need one answer take the newest edge (``user_segment`` does), and an interrupted run is completed
        by running it again. One segmentation at a time.
        """

    def segments(self) -> list[SegmentRecord]:
        """Every segment, largest first (ties by name)."""

    def user_segment(self, *, user_id: str) -> str | None:
        """The name of the user's segment (the newest membership), or None."""

    def iter_segment_members(self, *, page_size: int = 50_000) -> Iterator[list[tuple[str, str]]]:
        """Every ``(user id, segment name)``, in pages ascending by user id."""


class CypherConsole(Protocol):
    """An analyst's session on the store (``graphrec cypher``), as cypher-shell has one with Neo4j.

    Statements run one by one, each committed on its own, unless a transaction is open: between
    :meth:`begin` and :meth:`commit` or :meth:`rollback` they commit or roll back together. A store
    without multi-statement transactions refuses :meth:`begin` (``BadStoreInput``, saying why) rather
    than let statements the analyst meant to roll back commit. :meth:`use` switches the database (Neo4j)
    or graph (FalkorDB) the next statements run on. No call is retried: an unreachable store fails
    now (``StoreUnavailable``). A statement the store refuses raises ``BadStoreInput`` with its message;
    on a graph that does not exist yet a read raises :class:`~graphrec.graph.errors.GraphNotCreated`."""

    @property
    def target(self) -> str:
        """The database or graph the statements run on."""

    @property
    def in_transaction(self) -> bool: ...

    def run_cypher(self, statement: str, params: Mapping[str, Any]) -> CypherResult:
        """Run one statement (``EXPLAIN``/``PROFILE`` give the plan in :attr:`CypherResult.plan`)."""

    def begin(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def use(self, name: str) -> None: ...

    def close(self) -> None:
        """End the session; an open transaction is rolled back."""


class StoreLifecycle(Protocol):
    """The store as a running database: schema, health, counts, reset, analysts' Cypher, closing."""

    def apply_schema(self) -> None:
        """Create constraints and indexes; safe to run any number of times, also concurrently."""

    def counts(self) -> GraphCounts: ...

    def ping(self) -> bool:
        """Whether the store answers right now (used by readiness checks)."""

    def recover(self) -> bool:
        """Make the store reachable again where graphrec owns it (restart a dead embedded server),
        then ping; the API's store watchdog calls it while the store does not answer."""

    def clear(self) -> None:
        """Delete every node and edge (tests and ``graphrec init --reset``)."""

    def run_cypher(self, query: str, params: Mapping[str, Any] | None = None, *, write: bool = False) -> CypherResult:
        """An analyst's own statement with bound parameters (``graphrec cypher``); read-only unless
        ``write``. The text is the analyst's to write; values never go into it, only into ``params``.
        A statement the store refuses raises ``BadStoreInput`` with the store's message."""
        ...

    def cypher_console(self, *, write: bool = False) -> CypherConsole:
        """An analyst's session (``graphrec cypher``): read-only unless ``write``; ``close()`` it."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class GraphStore(
    InteractionStore,
    IdentityStore,
    CatalogueStore,
    ModelPublication,
    Bookkeeping,
    SegmentStore,
    StoreLifecycle,
    Protocol,
):
    """Every facet at once: what each adapter implements, and what callers needing several hold."""


@dataclass(frozen=True, slots=True)
class EventKey:
    """One event's duplicate-detection key, the user (graph node id) it was seen for, and its content
    fingerprint (kept with the key so a reuse of the key with other content can be told apart)."""

    key: str
    user_id: str
    fingerprint: str | None = None


@dataclass(frozen=True, slots=True)
class EventWriteResult:
    """Outcome of :meth:`InteractionStore.upsert_interactions_once`."""

    applied: bool
    existing: tuple[str, ...] = ()
    refused_users: tuple[str, ...] = ()
    edges: int = 0
    # (key, fingerprint) of the existing keys recorded with one (records from before fingerprints: none)
    fingerprints: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class WeightUpdate:
    """New weight for edge (user, item), valid while the edge's ``count`` is still ``expected_count``:
    ``weight`` is the edge's new raw sum, which the store saturates at ``weight_cap`` (None: the
    edge's own cap, if any), as it does every written delta (:mod:`graphrec.graph.edge_combination`)."""

    user_id: str
    item_id: str
    weight: float
    expected_count: int
    weight_cap: float | None = None
