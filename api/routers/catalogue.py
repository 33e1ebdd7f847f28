"""The catalogue (issue 15, point 5): ``/v1/categories``, ``/v1/items`` and ``/v1/items/{item_id}``.

Reads (any key; open in local demo) come from the store, so every API process answers the same the
moment an upsert is acknowledged. Writes need a SECRET key (a publishable key in a web page must not
rewrite prices: 403) and replace an item's descriptive fields and category set, all or nothing per
request; what was written is also applied to this process's in-memory catalogue view at once
(``CatalogCache.apply``), so recommendation lists carry the new titles and links on the next request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from api.cursors import BadCursor, seal, unseal
from api.deps import CatalogDep, SettingsDep, StoreDep, read_access, require_api_key, require_store
from api.errors import error_item
from api.pages import CURSOR_PATTERN, MAX_CURSOR_LENGTH, bad_cursor
from api.routing import id_path
from api.schemas.catalogue import (
    CategoriesPublic,
    CategoryPublic,
    ItemPublic,
    ItemsPublic,
    ItemsUpsert,
    ItemsUpserted,
    ItemUpdate,
)
from api.schemas.errors import error_responses
from graphrec.config import Settings
from graphrec.ids import Identifier

router = APIRouter(tags=["catalogue"], responses=error_responses(401, 422, 429, 503))

READ = [Depends(read_access), Depends(require_store)]
WRITE = [Depends(require_api_key), Depends(require_store)]


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


@router.get("/categories", response_model=CategoriesPublic, dependencies=READ)
def list_categories(store: StoreDep) -> CategoriesPublic:
    """Every category that holds items, with how many, by name."""
    data = [CategoryPublic(name=name, items=n) for name, n in store.category_sizes()]
    return CategoriesPublic(data=data, count=len(data))


@router.get("/items", response_model=ItemsPublic, dependencies=READ)
def list_items(
    store: StoreDep,
    settings: SettingsDep,
    category: Annotated[str | None, Query(max_length=256, description="only items in this category")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="items per page")] = 50,
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, pattern=CURSOR_PATTERN, description="next_cursor of the previous page"),
    ] = None,
) -> ItemsPublic:
    """The catalogue, a page at a time, by item id."""
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
    return ItemsPublic(data=data, count=len(data), next_cursor=next_cursor)


@router.get(id_path("/items/{item_id}"), response_model=ItemPublic, dependencies=READ, responses=error_responses(404))
def read_item(store: StoreDep, item_id: Annotated[Identifier, Path()]) -> ItemPublic:
    """One item as the catalogue describes it."""
    found = store.get_items(item_ids=[item_id])
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown item '{item_id}'")
    return ItemPublic.of(found[0])


@router.put(
    id_path("/items/{item_id}"), response_model=ItemPublic, dependencies=WRITE, responses=error_responses(400, 403)
)
def upsert_item(
    store: StoreDep, catalog: CatalogDep, item_id: Annotated[Identifier, Path()], body: ItemUpdate
) -> ItemPublic:
    """Create or replace one item's descriptive fields and categories (secret key)."""
    item = body.record(item_id)
    store.replace_items([item])
    catalog.apply([item])
    return ItemPublic.of(item)


@router.put("/items", response_model=ItemsUpserted, dependencies=WRITE, responses=error_responses(400, 403))
def upsert_items(store: StoreDep, catalog: CatalogDep, body: ItemsUpsert) -> ItemsUpserted:
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
    written = store.replace_items(items)
    catalog.apply(items)
    return ItemsUpserted(upserted=written)
