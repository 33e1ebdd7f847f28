"""Every ``/items`` route lives in :mod:`api.routers.items`, in an order where none hides another.

Why: Starlette answers with the first route whose path matches, and the ``id`` convertor takes any
text, ``/`` included, so ``/items/{item_id}`` declared first would read ``/items/popular`` and
``/items/x/similar`` as item ids. This holds the order the module's docstring promises.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi.routing import APIRoute

import api.routers
from api.routers import items


def _api_routes(module_name: str) -> list[APIRoute]:
    module = importlib.import_module(module_name)
    router = getattr(module, "router", None)
    return [r for r in getattr(router, "routes", []) if isinstance(r, APIRoute)]


def test_no_other_router_declares_an_items_route() -> None:
    elsewhere = [
        (info.name, r.path)
        for info in pkgutil.iter_modules(api.routers.__path__)
        if info.name != "items"
        for r in _api_routes(f"api.routers.{info.name}")
        if r.path == "/items" or r.path.startswith("/items/")
    ]
    assert elsewhere == []


def test_no_items_route_is_hidden_by_one_declared_before_it() -> None:
    routes = _api_routes("api.routers.items")
    assert {r.path for r in routes} >= {
        "/items",
        "/items/popular",
        "/items/new",
        "/items/bought-together",
        "/items/{item_id:id}",
        "/items/{item_id:id}/similar",
        "/items/{item_id:id}/bought-together",
    }
    for i, earlier in enumerate(routes):
        for later in routes[i + 1 :]:
            # A later route's own path text (its parameters as written) stands for every request it takes.
            shared = (earlier.methods or set()) & (later.methods or set())
            hidden = earlier.path_regex.match(later.path) is not None and bool(shared)
            assert not hidden, f"{sorted(shared)} {earlier.path} answers {later.path} first"


def test_the_items_router_is_the_one_the_app_mounts() -> None:
    from api.main import create_app
    from graphrec.config import Settings

    paths = create_app(Settings()).openapi()["paths"]
    for path in (
        "/v1/items",
        "/v1/items/popular",
        "/v1/items/new",
        "/v1/items/bought-together",
        "/v1/items/{item_id}",
        "/v1/items/{item_id}/similar",
        "/v1/items/{item_id}/bought-together",
    ):
        assert path in paths
    assert items.router.prefix == "/items"
