"""``/v1/categories``: the catalogue's categories, each with how many items it holds.

A resource of its own (one router per resource): it is not an ``/items`` path, and the items listing
only takes a category name from it (``GET /v1/items?category=``). Read from the store, like the items
listing, so every API process answers the same the moment a catalogue upsert is acknowledged.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from api.deps import SettingsDep, StoreDep, read_access, require_store
from api.json_response import NOT_MODIFIED, shared_json
from api.schemas.catalogue import CategoriesPublic, CategoryPublic
from api.schemas.errors import error_responses

router = APIRouter(
    tags=["catalogue"],
    dependencies=[Depends(read_access), Depends(require_store)],
    responses=error_responses(401, 422, 429, 503),
)


@router.get("/categories", response_model=CategoriesPublic, responses=NOT_MODIFIED)
def list_categories(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """Every category that holds items, with how many, by name (shared: ETag and Cache-Control)."""
    data = [CategoryPublic(name=name, items=n) for name, n in store.category_sizes()]
    return shared_json(request, CategoriesPublic(data=data, count=len(data)), shared_cache_s=settings.shared_max_age_s)
