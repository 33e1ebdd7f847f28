"""The package's own static assets at ``/static`` and Swagger UI at ``/docs`` built on them.

Why: FastAPI's default ``/docs`` page loads Swagger UI's script and CSS from a CDN (and its favicon
from fastapi.tiangolo.com), so on a machine without internet, or behind a strict proxy, the docs page
was blank. The files come from the npm package ``swagger-ui-dist`` (version and checksums in
``api/static/swagger/dist.json``), ship inside the ``api`` package and are served by the app itself.
ReDoc (``/redoc``) is off: it has no offline build here, and one interactive reference is enough.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from api.page_headers import html_page_headers, page_headers

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"
DOCS_URL = "/docs"
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def install_static(app: FastAPI) -> None:
    """Serve ``api/static`` (Swagger UI, the storefront's script, style and tracker bundle) at ``/static``."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")


def install_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI over ``/openapi.json`` from ``/static/swagger`` (no external host), both
    with the pages' security headers (:mod:`api.page_headers`: nothing may frame them).

    The app must be created with ``docs_url=None`` and ``openapi_url=None`` (and :func:`install_static`
    called), so that these routes replace FastAPI's: its page loads from a CDN and neither sets a
    Content-Security-Policy. The validator badge is off: it asks validator.swagger.io.
    """

    @app.get(OPENAPI_URL, include_in_schema=False)
    def openapi_document() -> JSONResponse:
        return JSONResponse(app.openapi(), headers=page_headers())

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _with_page_headers(
            get_swagger_ui_html(
                openapi_url=OPENAPI_URL,
                title=f"{app.title} - API reference",
                swagger_js_url=f"{STATIC_PREFIX}/swagger/swagger-ui-bundle.js",
                swagger_css_url=f"{STATIC_PREFIX}/swagger/swagger-ui.css",
                swagger_favicon_url=f"{STATIC_PREFIX}/swagger/favicon-32x32.png",
                oauth2_redirect_url=OAUTH2_REDIRECT_URL,
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return _with_page_headers(get_swagger_ui_oauth2_redirect_html())


def _with_page_headers(page: HTMLResponse) -> HTMLResponse:
    """FastAPI's Swagger page with the pages' headers; its inline start-up script allowed by hash."""
    html = bytes(page.body).decode()
    return HTMLResponse(html, headers=html_page_headers(html))
