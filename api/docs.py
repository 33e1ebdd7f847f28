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
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static"
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def install_static(app: FastAPI) -> None:
    """Serve ``api/static`` (Swagger UI, the storefront's script, style and tracker bundle) at ``/static``."""
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="static")


def install_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI over ``app.openapi_url`` from ``/static/swagger`` (no external host).

    The app must be created with ``docs_url=None`` (and :func:`install_static` called), so that this
    page replaces FastAPI's CDN one. The validator badge is off: it asks validator.swagger.io.
    """
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{app.title} - API reference",
            swagger_js_url=f"{STATIC_PREFIX}/swagger/swagger-ui-bundle.js",
            swagger_css_url=f"{STATIC_PREFIX}/swagger/swagger-ui.css",
            swagger_favicon_url=f"{STATIC_PREFIX}/swagger/favicon-32x32.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL, swagger_ui_parameters={"validatorUrl": None})

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
