"""Frequently bought together: for each item, the items the same shoppers bought or carted, by how many.

What counts (the store's basket read, :meth:`~graphrec.graph.port.InteractionStore.iter_basket_edges`):
an actor's edge to an item on which they purchased or added it to a cart and still like it (positive
weight). Two items are bought together by an actor who has such an edge to both, whenever each was
bought; their count is the number of **distinct actors** (users, anonymous visitors), so ten orders of
one pair by one shopper count once. Like trending, a shared list that must not be for sale
(:mod:`graphrec.recommend.popular`): browsers' edges to provisional items are not read, and only the
``actors_per_client`` strongest actors of one client count towards one item
(:func:`~graphrec.recommend.popular.within_client_cap`, the one home of that rule), so one script behind
one address that invents shoppers adds at most that many to any pair. An actor's basket counts its
``items_per_actor`` most recent items: a bot (or a wholesale account) carting thousands of items would
otherwise add millions of pairs, each worth one shopper.

Built off the request path (the API's background refresh, :mod:`graphrec.serving.bought_together_holder`)
as one sparse product: ``C = X^T X`` over the binary actor-by-item matrix ``X``, its diagonal dropped,
and each item's ``neighbours`` best co-items kept (most shoppers first, ties by item id), all in numpy
and scipy with no loop over rows. A request reads the rows of its anchors (one item, or a cart): a
cart's candidates add up their shoppers over the cart's items, and each keeps, as its evidence, the
cart items it was bought with and by how many.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graphrec.graph.records import InteractionPage
from graphrec.recommend.filters import ListFilter
from graphrec.recommend.popular import CatalogView, within_client_cap

NEIGHBOURS = 100
"""Co-items kept per item (``Settings.bought_together_neighbours``)."""

ITEMS_PER_ACTOR = 500
"""An actor's most recent basket items that count (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Together:
    """One listed item: how many shoppers bought it with the anchors (summed over a cart's items), and
    ``evidence``, each anchor it was bought with and by how many shoppers, most first."""

    item_id: str
    shoppers: int
    evidence: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Ranked:
    """The candidates of one request, best first, with each one's evidence on request."""

    ids: list[str]
    shoppers: list[int]
    evidence: Callable[[str], tuple[tuple[str, int], ...]]


@dataclass(frozen=True, eq=False)
class BoughtTogetherIndex:
    """Each item's co-items as one CSR structure over item codes (codes follow the sorted ids)."""

    item_ids: np.ndarray  # str, sorted
    lookup: dict[str, int]
    indptr: np.ndarray  # int64, len(item_ids) + 1
    neighbours: np.ndarray  # int64 item codes, each row most shoppers first (ties by id)
    shoppers: np.ndarray  # int64, distinct actors per (item, neighbour)
    built_ms: int

    @classmethod
    def empty(cls, built_ms: int = 0) -> BoughtTogetherIndex:
        none = np.zeros(0, dtype=np.int64)
        return cls(np.zeros(0, dtype=str), {}, np.zeros(1, dtype=np.int64), none, none, built_ms)

    @property
    def pairs(self) -> int:
        """How many (item, co-item) entries the index keeps."""
        return len(self.neighbours)

    @classmethod
    def build(
        cls,
        edges: InteractionPage,
        *,
        built_ms: int,
        actors_per_client: int | None,
        neighbours: int = NEIGHBOURS,
        items_per_actor: int = ITEMS_PER_ACTOR,
    ) -> BoughtTogetherIndex:
        """The index of ``edges`` (the store's basket edges: one per actor and item, senders in
        ``clients``) under the module docstring's rules."""
        positive = edges.weights > 0
        edges = InteractionPage(
            edges.user_ids[positive],
            edges.item_ids[positive],
            edges.weights[positive],
            edges.last_ts[positive],
            None if edges.clients is None else edges.clients[positive],
        )
        if not len(edges.item_ids):
            return cls.empty(built_ms)
        item_ids, item = np.unique(edges.item_ids.astype(str), return_inverse=True)
        actor_ids, actor = np.unique(edges.user_ids.astype(str), return_inverse=True)
        strength = np.clip(edges.weights, 0.0, 1.0)  # as trending ranks an item's actors
        keep = within_client_cap(edges, strength, actors_per_client=actors_per_client, item_codes=item)
        keep &= _most_recent(actor, edges.last_ts, items_per_actor)
        x = sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.int64), (actor[keep], item[keep])),
            shape=(len(actor_ids), len(item_ids)),
        )
        x.sum_duplicates()
        x.data[:] = 1  # one edge per (actor, item) already; a repeated row must not count twice
        co = (x.T @ x).tocoo()
        off_diagonal = co.row != co.col
        rows, cols, counts = co.row[off_diagonal], co.col[off_diagonal], co.data[off_diagonal]
        order = np.lexsort((cols, -counts, rows))  # per row: most shoppers first, ties by id (codes are sorted)
        rows, cols, counts = rows[order], cols[order], counts[order]
        per_row = np.bincount(rows, minlength=len(item_ids))
        starts = np.concatenate([[0], np.cumsum(per_row)[:-1]])
        kept = np.arange(len(rows)) - starts[rows] < neighbours
        indptr = np.concatenate([[0], np.cumsum(np.minimum(per_row, neighbours))]).astype(np.int64)
        return cls(
            item_ids=item_ids,
            lookup={x: k for k, x in enumerate(item_ids.tolist())},
            indptr=indptr,
            neighbours=cols[kept].astype(np.int64),
            shoppers=counts[kept].astype(np.int64),
            built_ms=built_ms,
        )

    def has_any(self, anchors: Sequence[str]) -> bool:
        """Whether any of ``anchors`` was bought together with anything."""
        codes = [self.lookup[a] for a in anchors if a in self.lookup]
        return any(self.indptr[c + 1] > self.indptr[c] for c in codes)

    def ranked(self, anchors: Sequence[str]) -> Ranked:
        """The items bought together with ``anchors`` (never one of them), most shoppers first (summed over
        the anchors), ties by id."""
        codes = np.array(sorted({self.lookup[a] for a in anchors if a in self.lookup}), dtype=np.int64)
        if not len(codes):
            return Ranked([], [], lambda _item: ())
        lengths = self.indptr[codes + 1] - self.indptr[codes]
        positions = np.concatenate([np.arange(self.indptr[c], self.indptr[c + 1]) for c in codes])
        owner = np.repeat(codes, lengths)  # the anchor of each entry
        cand, counts = self.neighbours[positions], self.shoppers[positions]
        outside = ~np.isin(cand, codes)
        cand, counts, owner = cand[outside], counts[outside], owner[outside]
        uniq, inverse = np.unique(cand, return_inverse=True)
        sums = np.bincount(inverse, weights=counts, minlength=len(uniq)).astype(np.int64)
        order = np.lexsort((uniq, -sums))
        item_ids = self.item_ids

        def evidence(item_id: str) -> tuple[tuple[str, int], ...]:
            k = self.lookup.get(item_id)
            on = cand == k
            pairs = sorted(zip(item_ids[owner[on]].tolist(), counts[on].tolist(), strict=True), key=_most_first)
            return tuple(pairs)

        return Ranked(item_ids[uniq[order]].tolist(), sums[order].tolist(), evidence)


def _most_first(pair: tuple[str, int]) -> tuple[int, str]:
    return -pair[1], pair[0]


def _most_recent(actor: np.ndarray, last_ts: np.ndarray, limit: int) -> np.ndarray:
    """Which edges are among their actor's ``limit`` most recent (ties by position), as a mask."""
    order = np.lexsort((-last_ts, actor))
    grouped = actor[order]
    at = np.arange(len(order))
    starts = np.maximum.accumulate(np.where(np.r_[True, grouped[1:] != grouped[:-1]], at, 0))
    keep = np.zeros(len(actor), dtype=bool)
    keep[order[at - starts < limit]] = True
    return keep


def pick(
    ranked: Ranked, view: CatalogView, filters: ListFilter, *, k: int, leave_out: Container[str]
) -> list[Together]:
    """The ``k`` best of ``ranked`` that the list may show: within ``filters`` (availability included)
    and not in ``leave_out``; evidence is computed only for those."""
    out: list[Together] = []
    for item_id, shoppers in zip(ranked.ids, ranked.shoppers, strict=True):
        if item_id in leave_out or not filters.admits(view, item_id):
            continue
        out.append(Together(item_id, int(shoppers), ranked.evidence(item_id)))
        if len(out) == k:
            break
    return out
