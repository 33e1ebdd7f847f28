"""The demo storefront at ``/demo`` (issue 15, point 6): a shop page over this API, served by the API.

Why it is served by the Python package: ``make demo`` on a fresh machine needs no npm, so the page,
its script and style and the browser tracker's IIFE bundles (``api/static/demo/tracker.iife.js`` and
the widgets' ``widgets.iife.js``, checked-in copies of ``web/tracker``'s build that
tests/web/test_tracker.py keeps equal to a fresh build) ship as package data. The page is one HTML
shell for every route of the shop (``/demo``, ``/demo/category/<name>``, ``/demo/item/<id>``,
``/demo/cart``; the script renders the route, its lists with the widgets), with the server's first
**publishable** key injected; a secret key never reaches it. Product pictures
are placeholder SVGs drawn here (``/demo/img/<id>``), so the page works offline.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import quote
from xml.sax.saxutils import escape

from fastapi import APIRouter, FastAPI
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from api.deps import SettingsDep
from api.page_headers import page_headers
from api.routing import id_path
from graphrec.config import Settings
from graphrec.ids import Identifier

BASE = "/demo"
TEMPLATE = Path(__file__).resolve().parent / "templates" / "storefront.html"


router = APIRouter(include_in_schema=False)


def item_path(item_id: str) -> str:
    """The storefront's page of an item (site-relative, as a catalogue ``url`` may be)."""
    return f"{BASE}/item/{quote(item_id, safe='')}"


def picture_path(item_id: str) -> str:
    """The storefront's placeholder picture of an item (site-relative, as a catalogue ``image_url`` may be)."""
    return f"{BASE}/img/{quote(item_id, safe='')}"


def install_storefront(app: FastAPI, settings: Settings) -> None:
    """Add the storefront's routes when ``settings.demo_storefront`` is on (the static files are
    mounted with the rest of ``api/static``)."""
    if settings.demo_storefront:
        app.include_router(router)


@lru_cache(maxsize=1)
def _template() -> str:
    return TEMPLATE.read_text(encoding="utf-8")


def page_config(settings: Settings) -> dict[str, str | None]:
    """What the page is told: the base path and the first publishable key (None without one)."""
    keys = sorted(settings.publishable_key_set)
    return {"base": BASE, "key": keys[0] if keys else None}


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element: no ``<``, ``>`` or ``&`` that could end it."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _shell(settings: Settings) -> HTMLResponse:
    html = _template().replace("{{CONFIG}}", _script_json(page_config(settings)))
    return HTMLResponse(html, headers=page_headers())


@router.get(BASE)
def storefront_home(settings: SettingsDep) -> HTMLResponse:
    """The shop: "Recommended for you", trending products, categories."""
    return _shell(settings)


@router.get(f"{BASE}/cart")
def storefront_cart(settings: SettingsDep) -> HTMLResponse:
    return _shell(settings)


@router.get(id_path(f"{BASE}/item/{{item_id}}"))
def storefront_item(settings: SettingsDep, item_id: str) -> HTMLResponse:
    """A product page (the script loads the item and its similar items)."""
    return _shell(settings)


@router.get(id_path(f"{BASE}/category/{{name}}"))
def storefront_category(settings: SettingsDep, name: str) -> HTMLResponse:
    return _shell(settings)


def placeholder_svg(item_id: str) -> str:
    """A product picture for items the catalogue gives none: a colour from the id, and the id."""
    hue = int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:2], "big") % 360
    label = escape(item_id if len(item_id) <= 24 else item_id[:23] + "…", {'"': "&quot;"})
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240" viewBox="0 0 320 240" '
        f'role="img" aria-label="{label}">'
        f'<rect width="320" height="240" fill="hsl({hue},55%,86%)"/>'
        f'<rect x="110" y="48" width="100" height="100" rx="18" fill="hsl({hue},50%,62%)"/>'
        f'<circle cx="160" cy="98" r="26" fill="hsl({(hue + 180) % 360},45%,80%)"/>'
        f'<text x="160" y="200" font-family="sans-serif" font-size="22" text-anchor="middle" '
        f'fill="hsl({hue},40%,25%)">{label}</text></svg>'
    )


@router.get(id_path(f"{BASE}/img/{{item_id}}"))
def storefront_image(item_id: Annotated[Identifier, PathParam()]) -> Response:
    """Placeholder picture of an item (a valid id; 422 otherwise, like every id in the API)."""
    return Response(
        placeholder_svg(item_id),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
