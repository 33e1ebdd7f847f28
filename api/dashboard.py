"""The dashboard page at ``/dashboard``: plots of ``GET /v1/dashboard`` drawn by a small script.

Why a static shell: the page holds no data and no key; the analyst types a secret key into it (kept
in the tab's sessionStorage, sent as ``X-API-Key``, never in a URL), and the script reads the data
route, which is where access is checked. Served from the package's own files under a
same-origin-only Content-Security-Policy (:mod:`api.page_headers`), so it works offline and loads
nothing from elsewhere.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse

from api.page_headers import page_headers

TEMPLATE = Path(__file__).resolve().parent / "templates" / "dashboard.html"

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _page() -> str:
    return TEMPLATE.read_text(encoding="utf-8")


@router.get("/dashboard")
def dashboard_page() -> HTMLResponse:
    """The dashboard shell (data: GET /v1/dashboard with a secret key)."""
    return HTMLResponse(_page(), headers=page_headers())


def install_dashboard(app: FastAPI) -> None:
    app.include_router(router)
