"""Trending items and the item catalogue (titles, categories, links), cached and refreshed from the store.

Trending score of an item: ``sum over its edges touched in the last window of
w * 0.5 ** (age / half_life)`` (the store's recency decay), overall and per category. The cache is
rebuilt off the request path (a background task calls :meth:`CatalogCache.refresh`); requests
read one immutable :class:`CatalogView` reference, so a refresh never blocks or tears a request.

Catalogue upserts (``PUT /v1/items``) reach the view at once: the API passes what it wrote to
:meth:`CatalogCache.apply`, which swaps in a copy with those items' titles, categories and links (the
trending lists follow at the next refresh). Other API processes see them at their next refresh.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Container, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from graphrec.events.decay import DAY_MS, decay_weights
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

    def title(self, item_id: str) -> str | None:
        return self.titles.get(item_id)

    def details(self, item_id: str) -> tuple[tuple[str, ...], Links]:
        """An item's categories and ``(url, image_url, price, currency)``, for a list to carry."""
        return self.categories.get(item_id, ()), self.links.get(item_id, NO_LINKS)

    def with_items(self, items: Sequence[CatalogueItem]) -> CatalogView:
        """A copy in which ``items`` have these titles, categories and links (a catalogue upsert).

        Copies the per-item maps (a few ms for 100k items): upserts are rare next to reads, and a
        request's view must never change under it. Trending lists are left as built."""
        titles, categories, links = dict(self.titles), dict(self.categories), dict(self.links)
        for it in items:
            titles[it.id] = it.title
            categories[it.id] = tuple(sorted(set(it.categories)))
            item_links = (it.url, it.image_url, it.price, it.currency)
            if item_links == NO_LINKS:
                links.pop(it.id, None)
            else:
                links[it.id] = item_links
        names = self.category_names | {c for it in items for c in it.categories}
        return replace(self, titles=titles, categories=categories, category_names=frozenset(names), links=links)

    def in_category(self, item_id: str, category: str) -> bool:
        return category in self.categories.get(item_id, ())

    def trending(self, category: str | None, k: int, exclude: Container[str] = frozenset(),
                 ) -> list[tuple[str, float]]:
        ranked = self.popular if category is None else self.popular_by_category.get(category, ())
        out: list[tuple[str, float]] = []
        for item, score in ranked:
            if item not in exclude:
                out.append((item, score))
                if len(out) == k:
                    break
        return out


def rank_trending(edges: InteractionPage, *, as_of: int, half_life_days: float,
                  categories: dict[str, tuple[str, ...]], keep: int = 2_000,
                  ) -> tuple[list[tuple[str, float]], dict[str, list[tuple[str, float]]]]:
    """Items by the decayed weight of ``edges`` as of ``as_of``, best first (ties by id), and the ``keep``
    best per category: the trending lists. Pure, so an offline evaluation ranks a training split's
    edges exactly as :func:`build_view` ranks the store's (``graphrec.experiments.new_users``)."""
    totals: dict[str, float] = defaultdict(float)
    if len(edges.item_ids):
        decayed = decay_weights(edges.weights, edges.last_ts, now_ms=as_of, half_life_days=half_life_days)
        uniq, inverse = np.unique(edges.item_ids.astype(str), return_inverse=True)
        sums = np.bincount(inverse, weights=decayed.astype(np.float64), minlength=len(uniq))
        totals = dict(zip(uniq.tolist(), sums.tolist(), strict=True))
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    by_cat: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for item, score in ranked:
        for cat in categories.get(item, ()):
            if len(by_cat[cat]) < keep:
                by_cat[cat].append((item, score))
    return ranked, by_cat


def build_view(store: GraphStore, *, now_ms: int, window_days: float, half_life_days: float,
               keep: int = 2_000) -> CatalogView:
    """Read items and recent edges from the store into a new view (keeps the ``keep`` best per list)."""
    titles: dict[str, str | None] = {}
    categories: dict[str, tuple[str, ...]] = {}
    links: dict[str, Links] = {}
    for page in store.iter_items():
        for item_id, title, cats, item_links in zip(page.ids, page.titles, page.categories, page.links,
                                                    strict=True):
            titles[item_id] = title
            categories[item_id] = tuple(cats)
            if item_links != NO_LINKS:
                links[item_id] = item_links
    edges = InteractionPage.concat(list(store.iter_interactions(since_ms=now_ms - int(window_days * DAY_MS))))
    as_of = now_ms
    if not len(edges.item_ids):
        # Nothing in the window (traffic stopped, or a dataset from the past): rank all edges as of
        # the newest one, so new visitors still get the catalogue's best rather than nothing.
        edges = InteractionPage.concat(list(store.iter_interactions()))
        as_of = int(edges.last_ts.max()) if len(edges.last_ts) else now_ms
    ranked, by_cat = rank_trending(edges, as_of=as_of, half_life_days=half_life_days, categories=categories,
                                   keep=keep)
    names = frozenset(c for cats in categories.values() for c in cats)
    return CatalogView(titles=titles, categories=categories, category_names=names,
                       popular=tuple(ranked[:keep]), popular_by_category={c: tuple(v) for c, v in by_cat.items()},
                       built_ms=now_ms, links=links)


class CatalogCache:
    """Holds the current :class:`CatalogView`; :meth:`refresh` swaps in a new one.

    When and how often it is refreshed, and what happens when a refresh fails (the old view stays),
    is the caller's policy (the API's ``graphrec.serving.refresh``).
    """

    def __init__(self, *, window_days: float, half_life_days: float) -> None:
        self.window_days = window_days
        self.half_life_days = half_life_days
        self.view = CatalogView()
        self._lock = threading.Lock()
        # Upserts applied while a refresh reads the store: the refresh may have read the store before
        # they were written, so they are applied again onto its view (applying twice is harmless).
        self._during_refresh: dict[str, CatalogueItem] | None = None

    def refresh(self, store: GraphStore) -> CatalogView:
        """Rebuild from the store and swap; raises (keeping the previous view) when the store fails."""
        with self._lock:
            during = self._during_refresh = {}
        try:
            view = build_view(store, now_ms=int(time.time() * 1000), window_days=self.window_days,
                              half_life_days=self.half_life_days)
        except BaseException:
            with self._lock:
                self._during_refresh = None
            raise
        with self._lock:  # no upsert can slip between the last one recorded and the swap
            self._during_refresh = None
            self.view = view.with_items(list(during.values())) if during else view
            return self.view

    def apply(self, items: Sequence[CatalogueItem]) -> None:
        """Make a catalogue upsert that the store acknowledged visible to requests now."""
        if not items:
            return
        with self._lock:
            self.view = self.view.with_items(items)
            if self._during_refresh is not None:
                self._during_refresh.update((it.id, it) for it in items)


class UnknownCategory(ValueError):
    """A category the catalogue does not hold (the API answers 422)."""

    def __init__(self, category: str) -> None:
        super().__init__(f"unknown category '{category}'")
        self.category = category


def check_category(view: CatalogView, category: str | None) -> None:
    """Refuse a filter on a category no item has: an empty answer would hide the caller's typo."""
    if category is not None and category not in view.category_names:
        raise UnknownCategory(category)
