"""Every ``/v1/items`` route: the catalogue's listing, details and upserts, trending and similar items.

Catalogue reads (any key; open in local demo) come from the store, so every API process answers the
same the moment an upsert is acknowledged. Catalogue writes need a SECRET key (a publishable key in a
web page must not rewrite prices: 403) and replace an item's descriptive fields and category set, all
or nothing per request; what was written is also applied to this process's in-memory catalogue view
at once (``CatalogCache.apply``), so recommendation lists carry the new titles and links on the next
request, and an item the served model never saw is placed in its space by its title and categories
(``ColdItemsHolder.upserted``), so it can be listed as similar or recommended at once. Trending and
similar items are ranked lists (``exclude=`` and cursor pages as in :mod:`api.pages`) served from the
in-memory view and the model, without a store round trip.

The OpenAPI tags keep the two jobs apart for a reader of the docs: "catalogue" for what describes
items, "items" for the ranked lists.

Route order is part of the contract: Starlette answers with the first route whose path matches, and
the ``id`` convertor of :func:`api.routing.id_path` takes any text, ``/`` included. So the static
``/items/popular``, ``/items/new`` and ``/items/bought-together`` are declared before
``/items/{item_id}`` (or "popular" would be read as an item id), and ``/items/{item_id}/similar`` and
``/items/{item_id}/bought-together`` before ``/items/{item_id}`` (or "x/similar" would be). Keeping
every ``/items`` route in this one module keeps that order in one place, not in the order
:func:`api.main.create_app` happens to include routers.

The new lists (issue 28, point 5) are shared too and served from memory: frequently bought together
(:mod:`graphrec.recommend.bought_together`, one item or a cart) and new arrivals
(:mod:`graphrec.recommend.new_arrivals`); both take the filters, ``exclude=`` and cursors of the
ranked lists, and an item with no co-purchases answers an empty list with ``reason: no_co_purchases``
rather than another list under this one's name (the caller may ask ``/similar``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status

from api.cursors import BadCursor, seal, unseal
from api.deps import (
    BoughtTogetherDep,
    CatalogDep,
    ColdItemsDep,
    MetricsDep,
    RecommenderDep,
    SettingsDep,
    StoreDep,
    read_access,
    require_api_key,
    require_store,
)
from api.errors import error_item
from api.json_response import NOT_MODIFIED, shared_json
from api.list_query import ListParams, ListParamsDep
from api.pages import (
    CURSOR_PATTERN,
    MAX_CURSOR_LENGTH,
    RANKING_CHANGED,
    bad_cursor,
    checked_ids,
    close_page,
    id_parts,
    list_key,
)
from api.routers.recommendations import (
    described,
    nothing_to_serve,
    record,
    to_public,
    unknown_category,
)
from api.routing import id_path
from api.schemas.catalogue import ItemPublic, ItemsPublic, ItemsUpsert, ItemsUpserted, ItemUpdate
from api.schemas.errors import error_responses
from api.schemas.lists import (
    NO_CO_PURCHASES,
    BoughtTogetherItemPublic,
    BoughtTogetherPublic,
    NewItemPublic,
    NewItemsPublic,
)
from api.schemas.recommend import PopularItemsPublic, RecommendedItemPublic, SimilarItemsPublic
from graphrec import clock
from graphrec.config import Settings
from graphrec.ids import Identifier
from graphrec.recommend.bought_together import pick
from graphrec.recommend.explain import bought_together_reason, new_arrival_reason, popular_reason
from graphrec.recommend.new_arrivals import new_arrivals
from graphrec.recommend.popular import CatalogView, UnknownCategory, check_category
from graphrec.recommend.ranking import NothingToServe
from graphrec.recommend.recommender import UnknownItem
from graphrec.serving.bought_together_holder import BoughtTogetherHolder

router = APIRouter(prefix="/items", responses=error_responses(401, 422, 429, 503))

# Catalogue routes read or write the store (503 at once while it is known to be down); the ranked
# lists are served from memory and answer through a store outage.
CATALOGUE_READ = [Depends(read_access), Depends(require_store)]
CATALOGUE_WRITE = [Depends(require_api_key), Depends(require_store)]
RANKED_READ = [Depends(read_access)]


def _listing_after(settings: Settings, cursor: str | None, category: str | None) -> str:
    """Where a listing cursor says the previous page stopped ("" without one)."""
    if cursor is None:
        return ""
    try:
        payload = unseal(cursor, key=settings.cursor_key, previous=settings.cursor_previous_keys)
    except BadCursor as exc:
        raise bad_cursor(str(exc)) from None
    after = payload.get("after")
    if payload.get("list") != "items" or not isinstance(after, str):
        raise bad_cursor("this cursor belongs to another list")
    if payload.get("category") != category:
        raise bad_cursor("this cursor belongs to another listing (keep the same category)")
    return after


# --- /items: no path parameter ---------------------------------------------------------------------


@router.get("", response_model=ItemsPublic, tags=["catalogue"], dependencies=CATALOGUE_READ, responses=NOT_MODIFIED)
def list_items(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    category: Annotated[str | None, Query(max_length=256, description="only items in this category")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="items per page")] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, pattern=CURSOR_PATTERN, description="next_cursor of the previous page"),
    ] = None,
) -> Response:
    """The catalogue, a page at a time, by item id (shared: ETag and Cache-Control)."""
    after = _listing_after(settings, cursor, category)
    page = store.list_items(after=after, limit=limit + 1, category=category)  # one more: is there a next page?
    if category is not None and not page and cursor is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, [error_item(None, "category", f"unknown category '{category}'")]
        )
    more = len(page) > limit
    page = page[:limit]
    next_cursor = (
        seal({"list": "items", "after": page[-1].id, "category": category}, key=settings.cursor_key) if more else None
    )
    data = [ItemPublic.of(it) for it in page]
    listing = ItemsPublic(data=data, count=len(data), next_cursor=next_cursor)
    return shared_json(request, listing, shared_cache_s=settings.shared_max_age_s)


@router.put(
    "",
    response_model=ItemsUpserted,
    tags=["catalogue"],
    dependencies=CATALOGUE_WRITE,
    responses=error_responses(400, 403),
)
def upsert_items(store: StoreDep, catalog: CatalogDep, cold: ColdItemsDep, body: ItemsUpsert) -> ItemsUpserted:
    """Create or replace up to 1,000 items, all or nothing (secret key)."""
    first: dict[str, int] = {}
    duplicates = []
    for i, it in enumerate(body.items):
        if it.item_id in first:
            duplicates.append(
                error_item(
                    i, f"items[{i}].item_id", f"item '{it.item_id}' is also items[{first[it.item_id]}]; send each once"
                )
            )
        first.setdefault(it.item_id, i)
    if duplicates:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, duplicates)
    items = [it.record(it.item_id) for it in body.items]
    now = clock.now_ms()  # one time for the store's first-listed stamp and the view's
    written = store.replace_items(items, now_ms=now)
    catalog.apply(items, listed_ms=now)
    cold.upserted(items)  # items the model never saw: placed by their content, listable at once
    return ItemsUpserted(upserted=written)


# --- /items/popular: static, so before any /items/{item_id} route (see the module docstring) --------


@router.get(
    "/popular", response_model=PopularItemsPublic, tags=["items"], dependencies=RANKED_READ, responses=NOT_MODIFIED
)
def popular_items(
    request: Request,
    catalog: CatalogDep,
    settings: SettingsDep,
    query: ListParamsDep,
) -> Response:
    """Trending items (distinct recent actors, capped per client, catalogued items only), overall or in one
    category; never an unavailable item. Shared: ETag and Cache-Control."""
    view = catalog.view
    filters = query.filters()
    page = query.page(settings, list_key("popular", *filters.identity()))
    try:
        check_category(view, query.category)
    except UnknownCategory as exc:
        raise unknown_category(exc) from None
    admits = filters.per_item(view)
    ranked = view.trending(query.category, page.k, exclude=page.leave_out, where=admits)
    # Scores are relative to the list's top item, which earlier pages may have served: the view's.
    top_list = view.trending(query.category, 1, where=admits)
    top = top_list[0][1] if top_list else 1.0
    data = [
        RecommendedItemPublic(
            item_id=i,
            title=view.title(i),
            score=round(s / top, 6) if top else 0.0,
            source="popular",
            reasons=[popular_reason(query.category)] if query.explain else None,
            **described(view, i),
        )
        for i, s in ranked
    ]
    # Trending lists are rebuilt every minute without a model version: pages never 409, never repeat.
    next_cursor = close_page(settings, page, item_ids=[d.item_id for d in data], model_version=None, versioned=False)
    popular = PopularItemsPublic(
        category=query.category, data=data, count=len(data), built_ms=view.built_ms, next_cursor=next_cursor
    )
    return shared_json(request, popular, shared_cache_s=settings.shared_max_age_s)


MAX_CART = 50
CART = (
    f"the cart's item ids: repeated and/or comma-separated, 1 to {MAX_CART}; items bought together with any "
    "of them, their shoppers added up"
)
CartQuery = Annotated[list[str], Query(description=CART)]


def _cart(values: list[str]) -> list[str]:
    """The ``items=`` ids, each held to the id rule, in first-seen order without repeats (422 on ``items``)."""
    parts = id_parts(values)
    if not parts or len(parts) > MAX_CART:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [error_item(None, "items", f"a cart holds 1 to {MAX_CART} item ids, got {len(parts)}")],
        )
    return checked_ids(parts, "items")


def _bought_together(
    request: Request,
    settings: Settings,
    view: CatalogView,
    holder: BoughtTogetherHolder,
    anchors: list[str],
    query: ListParams,
) -> Response:
    """One bought-together list for both routes (one item, a cart): a page of the index's ranking."""
    filters = query.filters()
    page = query.page(settings, list_key("bought-together", sorted(anchors), *filters.identity()))
    try:
        check_category(view, query.category)
    except UnknownCategory as exc:
        raise unknown_category(exc) from None
    index = holder.index  # read once: a rebuild cannot change it mid-request
    ranked = index.ranked(anchors)
    chosen = pick(ranked, view, filters, k=page.k, leave_out=page.leave_out)
    # Scores are relative to the list's top item, which earlier pages may have served.
    top_list = pick(ranked, view, filters, k=1, leave_out=())
    top = top_list[0].shoppers if top_list else 1
    data = [
        BoughtTogetherItemPublic(
            item_id=t.item_id,
            title=view.title(t.item_id),
            score=round(t.shoppers / top, 6),
            shoppers=t.shoppers,
            reasons=[bought_together_reason(a, n, view.title) for a, n in t.evidence[:3]] if query.explain else None,
            evidence=[a for a, _ in t.evidence] if query.explain else None,
            **described(view, t.item_id),
        )
        for t in chosen
    ]
    # Rebuilt every few minutes without a model version: pages never 409, never repeat.
    next_cursor = close_page(settings, page, item_ids=[d.item_id for d in data], model_version=None, versioned=False)
    answer = BoughtTogetherPublic(
        item_ids=anchors,
        data=data,
        count=len(data),
        built_ms=index.built_ms,
        reason=None if index.has_any(anchors) else NO_CO_PURCHASES,
        next_cursor=next_cursor,
    )
    return shared_json(request, answer, shared_cache_s=settings.shared_max_age_s)


@router.get(
    "/bought-together",
    response_model=BoughtTogetherPublic,
    tags=["items"],
    dependencies=RANKED_READ,
    responses=NOT_MODIFIED,
)
def cart_bought_together(
    request: Request,
    catalog: CatalogDep,
    settings: SettingsDep,
    holder: BoughtTogetherDep,
    items: CartQuery,
    query: ListParamsDep,
) -> Response:
    """Frequently bought together with a cart: items that distinct shoppers bought or carted with any of
    the cart's items (their shoppers added up), never one of them, never an unavailable item; empty with
    ``reason: no_co_purchases`` when nothing was bought with them. Shared: ETag and Cache-Control."""
    anchors = _cart(items)
    return _bought_together(
        request,
        settings,
        catalog.view,
        holder,
        anchors,
        query,
    )


@router.get("/new", response_model=NewItemsPublic, tags=["items"], dependencies=RANKED_READ, responses=NOT_MODIFIED)
def new_items(
    request: Request,
    catalog: CatalogDep,
    settings: SettingsDep,
    query: ListParamsDep,
) -> Response:
    """New arrivals: items by when a catalogue first described them, newest first (items with no
    first-listed time, described before it was kept or only seen in events, are left out); never an
    unavailable item. Shared: ETag and Cache-Control."""
    view = catalog.view
    filters = query.filters()
    page = query.page(settings, list_key("new", *filters.identity()))
    try:
        check_category(view, query.category)
    except UnknownCategory as exc:
        raise unknown_category(exc) from None
    arrivals = new_arrivals(view, filters, k=page.k, leave_out=page.leave_out, half_life_days=settings.half_life_days)
    now = clock.now_ms()
    data = [
        NewItemPublic(
            item_id=a.item_id,
            title=view.title(a.item_id),
            score=a.score,
            listed_ms=a.listed_ms,
            reasons=[new_arrival_reason(now - a.listed_ms)] if query.explain else None,
            **described(view, a.item_id),
        )
        for a in arrivals
    ]
    next_cursor = close_page(settings, page, item_ids=[d.item_id for d in data], model_version=None, versioned=False)
    answer = NewItemsPublic(
        category=query.category, data=data, count=len(data), built_ms=view.built_ms, next_cursor=next_cursor
    )
    return shared_json(request, answer, shared_cache_s=settings.shared_max_age_s)


# --- /items/{item_id}/...: before /items/{item_id}, whose id would swallow the suffix -----------------


@router.get(
    id_path("/{item_id}/similar"),
    response_model=SimilarItemsPublic,
    tags=["items"],
    dependencies=RANKED_READ,
    responses={**error_responses(404, 409, e409=RANKING_CHANGED), **NOT_MODIFIED},
)
async def similar(
    request: Request,
    recommender: RecommenderDep,
    metrics: MetricsDep,
    settings: SettingsDep,
    catalog: CatalogDep,
    item_id: Annotated[Identifier, Path()],
    query: ListParamsDep,
) -> Response:
    """Items like this one: embedding neighbours blended with co-interaction neighbours; never an
    unavailable item. Shared: ETag and Cache-Control."""
    filters = query.filters()
    page = query.page(settings, list_key("similar", item_id, *filters.identity()))
    try:
        check_category(catalog.view, query.category)
    except UnknownCategory as exc:
        raise unknown_category(exc) from None
    try:
        result = await recommender.similar(
            item_id, page.k, explain=query.explain, leave_out=page.leave_out, filters=filters
        )
    except UnknownItem as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except NothingToServe as exc:
        raise nothing_to_serve(exc) from None
    next_cursor = close_page(
        settings, page, item_ids=[i.item_id for i in result.items], model_version=result.model_version
    )
    record(metrics, "similar", result)
    answer = SimilarItemsPublic(
        item_id=item_id,
        model_version=result.model_version,
        degraded=result.degraded,
        data=to_public(result, query.explain, catalog.view),
        graph_as_of_ms=result.graph_as_of_ms if query.explain else None,
        count=len(result.items),
        next_cursor=next_cursor,
    )
    return shared_json(request, answer, shared_cache_s=settings.shared_max_age_s)


@router.get(
    id_path("/{item_id}/bought-together"),
    response_model=BoughtTogetherPublic,
    tags=["items"],
    dependencies=RANKED_READ,
    responses=NOT_MODIFIED,
)
def item_bought_together(
    request: Request,
    catalog: CatalogDep,
    settings: SettingsDep,
    holder: BoughtTogetherDep,
    item_id: Annotated[Identifier, Path()],
    query: ListParamsDep,
) -> Response:
    """Frequently bought together with this item: items that distinct shoppers bought or carted with it
    (at most a few per browser client; catalogued items only), most shoppers first; never an unavailable
    item; empty with ``reason: no_co_purchases`` when nothing was. Shared: ETag and Cache-Control."""
    return _bought_together(
        request,
        settings,
        catalog.view,
        holder,
        [item_id],
        query,
    )


# --- /items/{item_id}: last ----------------------------------------------------------------------------


@router.get(
    id_path("/{item_id}"),
    response_model=ItemPublic,
    tags=["catalogue"],
    dependencies=CATALOGUE_READ,
    responses={**error_responses(404), **NOT_MODIFIED},
)
def read_item(
    request: Request, store: StoreDep, settings: SettingsDep, item_id: Annotated[Identifier, Path()]
) -> Response:
    """One item as the catalogue describes it (shared: ETag and Cache-Control)."""
    found = store.get_items(item_ids=[item_id])
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown item '{item_id}'")
    return shared_json(request, ItemPublic.of(found[0]), shared_cache_s=settings.shared_max_age_s)


@router.put(
    id_path("/{item_id}"),
    response_model=ItemPublic,
    tags=["catalogue"],
    dependencies=CATALOGUE_WRITE,
    responses=error_responses(400, 403),
)
def upsert_item(
    store: StoreDep, catalog: CatalogDep, cold: ColdItemsDep, item_id: Annotated[Identifier, Path()], body: ItemUpdate
) -> ItemPublic:
    """Create or replace one item's descriptive fields and categories (secret key)."""
    item = body.record(item_id)
    now = clock.now_ms()
    store.replace_items([item], now_ms=now)
    catalog.apply([item], listed_ms=now)
    cold.upserted([item])
    return ItemPublic.of(item)
