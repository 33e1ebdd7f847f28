"""A shop served from another origin than the API, as a site that embeds the widgets would be: its own host
name and port, its pages (``web/e2e/widget-shop/``) loading the tracker's script-tag bundles from itself and
calling the API across origins (CORS, the publishable key bound to this origin).

A plain threaded HTTP server: ``/`` (home), ``/product/<id>``, ``/blank`` (a page of the origin without the
tracker, to read its storage back), ``/static/...``. A handler that fails is recorded, and the test fails
on it (``errors``).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from tests.live_api import REPO

PAGES = REPO / "web" / "e2e" / "widget-shop"
BUNDLES = REPO / "api" / "static" / "demo"  # the checked-in builds (tests/web/test_tracker.py keeps them fresh)
STATIC = {
    "/static/tracker.iife.js": (BUNDLES / "tracker.iife.js", "text/javascript"),
    "/static/widgets.iife.js": (BUNDLES / "widgets.iife.js", "text/javascript"),
    "/static/shop.js": (PAGES / "shop.js", "text/javascript"),
    "/static/shop.css": (PAGES / "shop.css", "text/css"),
}


@dataclass
class OtherOrigin:
    """The running shop: its port (the pages are asked for under the host name the browser maps to it)."""

    port: int
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def _page(name: str, api: str, key: str, item: str = "") -> bytes:
    text = (PAGES / name).read_text(encoding="utf-8")
    return (
        text.replace("{{API}}", html.escape(api, quote=True))
        .replace("{{KEY}}", html.escape(key, quote=True))
        .replace("{{ITEM}}", html.escape(item, quote=True))
        .encode()
    )


@contextmanager
def other_origin_shop(*, api: str, key: str) -> Iterator[OtherOrigin]:
    """Serve the shop on a free loopback port while the block runs; stopped (and its thread joined) after."""
    shop: OtherOrigin

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
            try:
                path = urlsplit(self.path).path
                shop.requests.append(path)
                if path == "/":
                    self._send(200, _page("home.html", api, key), "text/html; charset=utf-8")
                elif path.startswith("/product/") and len(path) > len("/product/"):
                    self._send(200, _page("product.html", api, key, unquote(path[len("/product/") :])), "text/html")
                elif path == "/blank":
                    self._send(200, b"<!doctype html><title>blank</title>", "text/html")
                elif path in STATIC:
                    file, kind = STATIC[path]
                    self._send(200, file.read_bytes(), kind)
                elif path == "/favicon.ico":
                    self._send(204, b"", "image/x-icon")
                else:
                    self._send(404, b"not found", "text/plain")
            except Exception as exc:  # the test fails on it: see OtherOrigin.errors
                shop.errors.append(f"{self.path}: {exc!r}")
                raise

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass  # the requests are recorded in shop.requests

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    shop = OtherOrigin(port=int(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="other-origin-shop")
    thread.start()
    try:
        yield shop
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        assert not thread.is_alive(), "the other-origin shop's server did not stop"
