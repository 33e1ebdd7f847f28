"""Domain records that cross the GraphStore port; adapters return these, never driver objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # numpy is imported where used: the records must not cost a CLI's start-up numpy
    import numpy as np

NodeLabel = Literal["User", "Item"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    props: Mapping[str, str | int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ItemRecord:
    id: str
    title: str | None = None
    categories: tuple[str, ...] = ()
    props: Mapping[str, str | int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CatalogueItem:
    """An item as the catalogue API describes it: what a storefront needs to show it.

    Why a record beside :class:`ItemRecord`: an import merges properties onto items (and only ever
    adds categories), while a catalogue upsert *replaces* the descriptive fields and the category set,
    so the two writes take different shapes. ``provisional`` is read, never written: an item an event
    created and no catalogue (upsert or import) described yet.
    """

    id: str
    title: str | None = None
    categories: tuple[str, ...] = ()
    url: str | None = None
    image_url: str | None = None
    price: float | None = None
    currency: str | None = None
    available: bool = True
    provisional: bool = False
    attributes: tuple[tuple[str, str], ...] = ()  # (name, value) pairs, sorted by name: filterable facts


@dataclass(frozen=True, slots=True)
class InteractionDelta:
    """What a batch adds to one (user, item) edge; callers pre-aggregate so a pair appears once.

    ``weight`` is the policy weight of the new events (undecayed); ``type_counts`` keys are event
    type names, ``value_sums`` keys are valued event type names (see ``graphrec.event_types``).
    ``client``: who sent the events (``graphrec.events.clients``; "" for a trusted sender: a secret key,
    an import), stored on the edge so trending can cap how many actors one sender counts for.
    ``weight_cap``: the ceiling the weighting policy puts on the edge's weight (positive; None: the
    edge keeps the cap it has, if any); the store adds ``weight`` to the edge's raw sum and saturates
    the edge's ``weight`` at the cap (:mod:`graphrec.graph.edge_combination`).
    """

    user_id: str
    item_id: str
    weight: float
    count: int
    first_ts: int
    last_ts: int
    type_counts: Mapping[str, int] = field(default_factory=dict)
    value_sums: Mapping[str, float] = field(default_factory=dict)
    client: str = ""
    weight_cap: float | None = None


@dataclass(frozen=True, slots=True)
class Interaction:
    user_id: str
    item_id: str
    weight: float
    count: int
    first_ts: int
    last_ts: int
    type_counts: Mapping[str, int] = field(default_factory=dict)
    value_sums: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UserHistory:
    """A user's most recent edges as columns, most recent first: what a recommendation reads.

    Why not ``Interaction`` records: serving needs three fields of a few hundred edges per
    request, and building full records (counts, per-type maps) doubled the client's decode time.
    """

    item_ids: list[str]
    weights: np.ndarray  # float64, undecayed edge weights
    last_ts: np.ndarray  # int64, epoch ms

    def __len__(self) -> int:
        return len(self.item_ids)

    @classmethod
    def empty(cls) -> UserHistory:
        import numpy as np

        return cls([], np.zeros(0), np.zeros(0, np.int64))


@dataclass(frozen=True, slots=True)
class Candidate:
    """An item reached by traversal, with the items that led to it (the explanation's evidence)."""

    item_id: str
    score: float
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GraphCounts:
    users: int
    items: int
    categories: int
    interactions: int


@dataclass(frozen=True, slots=True)
class BatchGuard:
    """Makes a batch apply exactly once: it is written only if ledger ``key`` expects batch ``seq``.

    The ledger node and the edges change in one transaction, so a crash or a retry can neither
    lose nor double a batch; an import resumes at ``GraphStore.ledger_position(key)``.
    """

    key: str
    seq: int


@dataclass(frozen=True, slots=True)
class InteractionPage:
    """One page of exported edges as numpy columns (ids are object arrays of ``str``).

    ``clients``: the sender of each edge's latest events ("" for a trusted one), only where the read
    asked for it (the trending read, :meth:`InteractionStore.iter_trending_edges`); None elsewhere."""

    user_ids: np.ndarray
    item_ids: np.ndarray
    weights: np.ndarray  # float64
    last_ts: np.ndarray  # int64, epoch ms
    clients: np.ndarray | None = None  # object array of str

    @classmethod
    def concat(cls, pages: Sequence[InteractionPage]) -> InteractionPage:
        """All ``pages`` as one page (empty columns of the right types when there are none); ``clients``
        only when every page has them."""
        import numpy as np

        if not pages:
            return cls(np.zeros(0, dtype=object), np.zeros(0, dtype=object), np.zeros(0), np.zeros(0, np.int64))
        clients = [p.clients for p in pages if p.clients is not None]
        return cls(
            np.concatenate([p.user_ids for p in pages]),
            np.concatenate([p.item_ids for p in pages]),
            np.concatenate([p.weights for p in pages]),
            np.concatenate([p.last_ts for p in pages]),
            clients=np.concatenate(clients) if len(clients) == len(pages) else None,
        )


@dataclass(frozen=True, slots=True)
class ItemPage:
    """A page of items as columns: what the API's catalogue view and the export read.

    ``links`` holds, per item, ``(url, image_url, price, currency)`` as the catalogue described them
    (all None for items it never described), so recommendation lists can carry them; ``available``:
    whether the shop sells it now (an item the catalogue marked unavailable is in no list);
    ``listed_ms``: when a catalogue first described it (epoch ms; None for an item no catalogue
    described, or one described before first-listed times were kept)."""

    ids: list[str]
    titles: list[str | None]
    categories: list[list[str]]
    links: list[tuple[str | None, str | None, float | None, str | None]] = field(default_factory=list)
    available: list[bool] = field(default_factory=list)
    attributes: list[tuple[tuple[str, str], ...]] = field(default_factory=list)
    listed_ms: list[int | None] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Notification:
    """What the store says about a statement that ran (Neo4j's summary notifications; on FalkorDB the
    adapter's own checks): ``severity`` is ``WARNING`` or ``INFORMATION``."""

    severity: str
    description: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class CypherResult:
    """An analyst's ad-hoc query result (``graphrec cypher``): column names and plain-Python rows
    (nodes, relationships and paths turned into maps and lists, so any output format can print them).

    ``notifications``: what the store said about the statement (an unknown label, a cartesian product);
    ``plan``: the execution plan, one operator per line indented by depth, for ``EXPLAIN`` and ``PROFILE``
    (a profile's lines carry the rows each operator produced); ``counters``: what a write changed, as
    ``(name, count)`` such as ``("nodes created", 1)``."""

    columns: list[str]
    rows: list[list[Any]]
    notifications: tuple[Notification, ...] = ()
    plan: tuple[str, ...] = ()
    counters: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    """A behavioural segment as the graph keeps it: ``(:Segment {name, size, centroid, features, rule,
    computed_ms})``; ``centroid`` lists the mean of each of ``features`` over the members."""

    name: str
    size: int
    centroid: tuple[float, ...]
    features: tuple[str, ...]
    rule: str = ""
    computed_ms: int = 0
