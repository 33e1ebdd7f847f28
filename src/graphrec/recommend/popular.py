"""Trending items and the item catalogue (titles, categories, links), cached and refreshed from the store.

What counts (issue 25: shared lists must not be for sale). The trending score of an item is the number
of distinct actors (users, anonymous visitors) whose edge to it was touched in the last window, each
decayed by recency: ``sum over actors of min(max(w, 0), 1) * 0.5 ** (age / half_life)``, where ``w`` is
the actor's edge weight. So an actor counts at most once (one click's worth, however many events it
sent), a hover counts a tenth, a dislike nothing. On top of that:

- what browsers send for an item no catalogue described (``provisional``) never counts, since anyone
  holding the public key can create one (the store's trending read leaves those edges out); once the
  catalogue describes it, its edges count like any other; a trusted sender's edges (an import, the
  shop's backend) count for a provisional item too, so an events-only import keeps its lists;
- at most ``actors_per_client`` actors per *client* count towards one item within the window (its
  strongest ones): a client is the sender of the edge's latest events, the publishable key and the
  address, hashed (``graphrec.events.clients``). Secret-key and imported events carry no client and
  count per actor: a shop's backend relays many real users from one address.

The same rule ranks overall and per category, and every cold-start list reads these lists. The cache
is rebuilt off the request path (a background task calls :meth:`CatalogCache.refresh`); requests read
one immutable :class:`CatalogView` reference, so a refresh never blocks or tears a request.

Catalogue upserts (``PUT /v1/items``) reach the view at once: the API passes what it wrote to
:meth:`CatalogCache.apply`, which swaps in a copy with those items' titles, categories, links and
availability (the trending lists follow at the next refresh). Other API processes see them at their
next refresh.

An item the catalogue marks unavailable (``available: false``: out of stock, withdrawn) is in no list:
:meth:`CatalogView.listable` is the one rule every list applies (personal, anonymous, similar,
trending, session, bought together, recently viewed, new arrivals), and :meth:`CatalogView.trending`
applies it itself.

The view also carries when a catalogue first described each item (``listed``, the store's
``listed_ms``), newest first in :attr:`CatalogView.newest`: the new-arrivals list. An upsert through
this process lists the items the view did not know at all at the upsert's time, the time the store
stamped on them (unless another process created one since the last refresh, which then corrects it).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from graphrec import clock
from graphrec.clock import DAY_MS, decay_weights
from graphrec.events.clients import TRUSTED
from graphrec.graph.port import GraphStore
from graphrec.graph.records import CatalogueItem, InteractionPage

Links = tuple[str | None, str | None, float | None, str | None]  # url, image_url, price, currency
NO_LINKS: Links = (None, None, None, None)


@dataclass(frozen=True)
class CatalogView:
    """One consistent picture of the catalogue and of what is trending."""

    titles: dict[str, str | None] = field(default_factory=dict)
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    category_names: frozenset[str] = frozenset()
    popular: tuple[tuple[str, float], ...] = ()
    popular_by_category: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    built_ms: int = 0
    links: dict[str, Links] = field(default_factory=dict)  # only items the catalogue gave any
    unavailable: frozenset[str] = frozenset()  # items the catalogue marked available: false
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # only items that have any
    listed: dict[str, int] = field(default_factory=dict)  # first-listed time (epoch ms), only items that have one

    def title(self, item_id: str) -> str | None:
        return self.titles.get(item_id)

    def details(self, item_id: str) -> tuple[tuple[str, ...], Links]:
        """An item's categories and ``(url, image_url, price, currency)``, for a list to carry."""
        return self.categories.get(item_id, ()), self.links.get(item_id, NO_LINKS)

    def listable(self, item_id: str) -> bool:
        """Whether a list may show the item: not one the catalogue marked unavailable."""
        return item_id not in self.unavailable

    @cached_property
    def newest(self) -> tuple[str, ...]:
        """Every item with a first-listed time, newest first (ties by id): the new-arrivals order.
        Sorted once per view, on first use (about 20 ms for 100k items), since most views never serve
        that list; two requests racing here both sort and store the same tuple."""
        if not self.listed:
            return ()
        ids = np.array(list(self.listed), dtype=str)
        times = np.fromiter(self.listed.values(), dtype=np.int64, count=len(ids))
        return tuple(ids[np.lexsort((ids, -times))].tolist())

    def with_items(self, items: Sequence[CatalogueItem], *, listed: Mapping[str, int] | None = None) -> CatalogView:
        """A copy in which ``items`` have these titles, categories, links and availability (a catalogue
        upsert), and those the view did not know at all the first-listed time ``listed`` gives them
        (what the store stamped on the items it created; one it knew, say an event's provisional item the
        upsert describes, gets the store's stamp at the next refresh).

        Copies the per-item maps (a few ms for 100k items): upserts are rare next to reads, and a
        request's view must never change under it. Trending lists are left as built."""
        titles, categories, links = dict(self.titles), dict(self.categories), dict(self.links)
        first_listed = self.listed
        created = {i: t for i, t in (listed or {}).items() if i not in self.titles}
        if created:
            first_listed = {**self.listed, **created}
        attributes = dict(self.attributes)
        for it in items:
            if it.attributes:
                attributes[it.id] = dict(it.attributes)
            else:
                attributes.pop(it.id, None)
            titles[it.id] = it.title
            categories[it.id] = tuple(sorted(set(it.categories)))
            item_links = (it.url, it.image_url, it.price, it.currency)
            if item_links == NO_LINKS:
                links.pop(it.id, None)
            else:
                links[it.id] = item_links
        names = self.category_names | {c for it in items for c in it.categories}
        upserted = {it.id for it in items}
        unavailable = (self.unavailable - upserted) | {it.id for it in items if not it.available}
        return replace(
            self,
            titles=titles,
            categories=categories,
            category_names=frozenset(names),
            links=links,
            unavailable=frozenset(unavailable),
            attributes=attributes,
            listed=first_listed,
        )

    def in_category(self, item_id: str, category: str) -> bool:
        return category in self.categories.get(item_id, ())

    def trending(
        self,
        category: str | None,
        k: int,
        exclude: Container[str] = frozenset(),
        *,
        where: Callable[[str], bool] | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` most trending items (of ``category``), none in ``exclude``, none unavailable, and
        each passing ``where`` when given (a list's filters: ``graphrec.recommend.filters``)."""
        ranked = self.popular if category is None else self.popular_by_category.get(category, ())
        unavailable = self.unavailable
        out: list[tuple[str, float]] = []
        for item, score in ranked:
            if item not in exclude and item not in unavailable and (where is None or where(item)):
                out.append((item, score))
                if len(out) == k:
                    break
        return out


ACTOR_UNIT = 1.0  # the most one actor adds to an item's score: a click's weight in the default policy


def actor_scores(
    edges: InteractionPage,
    *,
    as_of: int,
    half_life_days: float,
    actors_per_client: int | None = None,
    item_codes: np.ndarray | None = None,
) -> np.ndarray:
    """What each edge (one actor, one item) adds to its item's trending score: its weight clipped to
    ``[0, ACTOR_UNIT]``, decayed as of ``as_of``; zero for the edges past the ``actors_per_client``
    strongest of one (item, client) pair. Edges with no client ("", or no ``clients`` column) are not
    capped. ``item_codes``: the edges' items as integer codes, where the caller has them already.
    Vectorised: one sort of the capped edges, no Python loop over edges."""
    scores = decay_weights(
        np.clip(edges.weights, 0.0, ACTOR_UNIT), edges.last_ts, now_ms=as_of, half_life_days=half_life_days
    ).astype(np.float64)
    scores[~within_client_cap(edges, scores, actors_per_client=actors_per_client, item_codes=item_codes)] = 0.0
    return scores


def within_client_cap(
    edges: InteractionPage,
    strength: np.ndarray,
    *,
    actors_per_client: int | None,
    item_codes: np.ndarray | None = None,
) -> np.ndarray:
    """Which edges count under the per-client cap of the module docstring (a boolean mask): of one
    (item, client) pair's edges only the ``actors_per_client`` with the greatest ``strength`` do (ties
    in the edges' order); edges with no client ("", or no ``clients`` column) always do.

    THE cap: trending applies it to its scores (:func:`actor_scores`), "frequently bought together" to
    its basket edges (:mod:`graphrec.recommend.bought_together`), so no script behind one address can
    buy either list. Vectorised: one sort of the capped edges, no Python loop over edges."""
    keep = np.ones(len(strength), dtype=bool)
    if actors_per_client is None or edges.clients is None or not len(strength):
        return keep
    capped = np.flatnonzero(edges.clients != TRUSTED)
    if len(capped) <= actors_per_client:
        return keep
    if item_codes is None:
        _, item_codes = np.unique(edges.item_ids.astype(str), return_inverse=True)
    item = item_codes[capped]
    clients, client = np.unique(edges.clients[capped].astype(str), return_inverse=True)
    group = item.astype(np.int64) * len(clients) + client  # one code per (item, client)
    order = np.lexsort((-strength[capped], group))  # by group, strongest actor first
    grouped = group[order]
    at = np.arange(len(order))
    starts = np.maximum.accumulate(np.where(np.r_[True, grouped[1:] != grouped[:-1]], at, 0))
    keep[capped[order[at - starts >= actors_per_client]]] = False
    return keep


def rank_trending(
    edges: InteractionPage,
    *,
    as_of: int,
    half_life_days: float,
    categories: dict[str, tuple[str, ...]],
    keep: int = 2_000,
    actors_per_client: int | None = None,
) -> tuple[list[tuple[str, float]], dict[str, list[tuple[str, float]]]]:
    """Items by the trending score of ``edges`` (module docstring) as of ``as_of``, best first (ties by id),
    items scoring nothing left out, and the ``keep`` best per category: the trending lists. ``edges`` hold
    one row per (actor, item), as the store's edges do. Pure, so an offline evaluation ranks a training
    split's edges exactly as :func:`build_view` ranks the store's (``graphrec.offline.new_user_protocol``)."""
    ranked: list[tuple[str, float]] = []
    if len(edges.item_ids):
        uniq, inverse = np.unique(edges.item_ids.astype(str), return_inverse=True)
        scores = actor_scores(
            edges, as_of=as_of, half_life_days=half_life_days, actors_per_client=actors_per_client, item_codes=inverse
        )
        sums = np.bincount(inverse, weights=scores, minlength=len(uniq))
        order = np.lexsort((uniq, -sums))
        order = order[sums[order] > 0]
        ranked = list(zip(uniq[order].tolist(), sums[order].tolist(), strict=True))
    by_cat: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for item, score in ranked:
        for cat in categories.get(item, ()):
            if len(by_cat[cat]) < keep:
                by_cat[cat].append((item, score))
    return ranked, by_cat


def build_view(
    store: GraphStore,
    *,
    now_ms: int,
    window_days: float,
    half_life_days: float,
    keep: int = 2_000,
    actors_per_client: int | None = None,
) -> CatalogView:
    """Read items and recent edges from the store into a new view (keeps the ``keep`` best per list);
    ``actors_per_client``: the per-client cap of the module docstring (None: no cap)."""
    titles: dict[str, str | None] = {}
    categories: dict[str, tuple[str, ...]] = {}
    links: dict[str, Links] = {}
    unavailable: set[str] = set()
    attributes: dict[str, dict[str, str]] = {}
    listed: dict[str, int] = {}
    for page in store.iter_items():
        for item_id, title, cats, item_links, available, item_attributes, listed_ms in zip(
            page.ids,
            page.titles,
            page.categories,
            page.links,
            page.available,
            page.attributes,
            page.listed_ms,
            strict=True,
        ):
            if listed_ms is not None:
                listed[item_id] = listed_ms
            if item_attributes:
                attributes[item_id] = dict(item_attributes)
            titles[item_id] = title
            categories[item_id] = tuple(cats)
            if item_links != NO_LINKS:
                links[item_id] = item_links
            if not available:
                unavailable.add(item_id)
    edges = InteractionPage.concat(list(store.iter_trending_edges(since_ms=now_ms - int(window_days * DAY_MS))))
    as_of = now_ms
    if not len(edges.item_ids):
        # Nothing in the window (traffic stopped, or a dataset from the past): rank all edges as of
        # the newest one, so new visitors still get the catalogue's best rather than nothing.
        edges = InteractionPage.concat(list(store.iter_trending_edges()))
        as_of = int(edges.last_ts.max()) if len(edges.last_ts) else now_ms
    ranked, by_cat = rank_trending(
        edges,
        as_of=as_of,
        half_life_days=half_life_days,
        categories=categories,
        keep=keep,
        actors_per_client=actors_per_client,
    )
    names = frozenset(c for cats in categories.values() for c in cats)
    return CatalogView(
        titles=titles,
        categories=categories,
        category_names=names,
        popular=tuple(ranked[:keep]),
        popular_by_category={c: tuple(v) for c, v in by_cat.items()},
        built_ms=now_ms,
        links=links,
        unavailable=frozenset(unavailable),
        attributes=attributes,
        listed=listed,
    )


class CatalogCache:
    """Holds the current :class:`CatalogView`; :meth:`refresh` swaps in a new one.

    When and how often it is refreshed, and what happens when a refresh fails (the old view stays),
    is the caller's policy (the API's ``graphrec.serving.refresh``).
    """

    def __init__(self, *, window_days: float, half_life_days: float, actors_per_client: int | None = None) -> None:
        self.window_days = window_days
        self.half_life_days = half_life_days
        self.actors_per_client = actors_per_client  # see the module docstring; None: no cap
        self.view = CatalogView()
        self._lock = threading.Lock()
        # Upserts applied while a refresh reads the store: the refresh may have read the store before
        # they were written, so they are applied again onto its view (applying twice is harmless), each
        # with the time it was listed at.
        self._during_refresh: dict[str, tuple[CatalogueItem, int | None]] | None = None

    def refresh(self, store: GraphStore) -> CatalogView:
        """Rebuild from the store and swap; raises (keeping the previous view) when the store fails."""
        with self._lock:
            during = self._during_refresh = {}
        try:
            view = build_view(
                store,
                now_ms=clock.now_ms(),
                window_days=self.window_days,
                half_life_days=self.half_life_days,
                actors_per_client=self.actors_per_client,
            )
        except BaseException:
            with self._lock:
                self._during_refresh = None
            raise
        with self._lock:  # no upsert can slip between the last one recorded and the swap
            self._during_refresh = None
            if during:
                listed = {i: t for i, (_, t) in during.items() if t is not None}
                view = view.with_items([it for it, _ in during.values()], listed=listed)
            self.view = view
            return self.view

    def apply(self, items: Sequence[CatalogueItem], *, listed_ms: int | None = None) -> None:
        """Make a catalogue upsert that the store acknowledged visible to requests now; ``listed_ms``: the
        time it gave the store to stamp on items described for the first time."""
        if not items:
            return
        listed = {it.id: listed_ms for it in items} if listed_ms is not None else None
        with self._lock:
            self.view = self.view.with_items(items, listed=listed)
            if self._during_refresh is not None:
                self._during_refresh.update((it.id, (it, listed_ms)) for it in items)


class UnknownCategory(ValueError):
    """A category the catalogue does not hold (the API answers 422)."""

    def __init__(self, category: str) -> None:
        super().__init__(f"unknown category '{category}'")
        self.category = category


def check_category(view: CatalogView, category: str | None) -> None:
    """Refuse a filter on a category no item has: an empty answer would hide the caller's typo."""
    if category is not None and category not in view.category_names:
        raise UnknownCategory(category)
