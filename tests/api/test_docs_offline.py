"""``/docs`` is Swagger UI from the package's own files: the page names no other host, every file it
loads is served by the app, and those files are the pinned swagger-ui-dist release, unchanged.
(tests/web/test_storefront.py also opens /docs in Chromium with every other host blocked.)"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient

from api.docs import STATIC_DIR


class _Refs(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


def references(html: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    return parser.urls


def test_docs_load_only_files_the_app_serves(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = references(page.text)
    assert sorted(urls) == [
        "/static/swagger/favicon-32x32.png",
        "/static/swagger/swagger-ui-bundle.js",
        "/static/swagger/swagger-ui.css",
    ]
    assert not re.search(r"https?://|//cdn|jsdelivr|unpkg", page.text), "the page names another host"
    assert '"validatorUrl": null' in page.text  # the validator badge would ask validator.swagger.io
    types = {".js": "javascript", ".css": "text/css", ".png": "image/png"}
    for url in urls:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert types[url[url.rindex(".") :]] in asset.headers["content-type"], url
        assert asset.content == (STATIC_DIR / url.removeprefix("/static/")).read_bytes()
    assert client.get("/openapi.json").status_code == 200
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and not re.search(r"https?://", redirect.text)


def test_the_cdn_pages_are_gone(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404


def test_the_assets_are_the_pinned_release_unchanged() -> None:
    manifest = json.loads((STATIC_DIR / "swagger" / "dist.json").read_text())
    assert manifest["package"] == "swagger-ui-dist" and re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((STATIC_DIR / "swagger" / name).read_bytes()).hexdigest() == digest, name
    shipped = {p.name for p in (STATIC_DIR / "swagger").iterdir()}
    assert shipped == set(manifest["sha256"]) | {"dist.json"}


def _policy(header: str) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in (p.strip() for p in header.split(";")) if d}


def test_docs_and_the_openapi_document_carry_the_pages_security_headers(client: TestClient) -> None:
    dashboard = client.get("/dashboard")
    page_policy = _policy(dashboard.headers["content-security-policy"])
    assert page_policy["frame-ancestors"] == "'none'" and page_policy["script-src"] == "'self'"
    for path in ("/docs", "/docs/oauth2-redirect", "/openapi.json"):
        r = client.get(path)
        assert r.status_code == 200, path
        policy = _policy(r.headers.get("content-security-policy", ""))
        assert policy.get("frame-ancestors") == "'none'", (path, r.headers)
        # the same policy as the pages; a page's own inline start-up script is allowed by its hash only
        scripts = re.findall(r"<script>(.*?)</script>", r.text, re.DOTALL) if path != "/openapi.json" else []
        hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts]
        assert policy == page_policy | {"script-src": " ".join(["'self'", *hashes])}, path
        for name in ("x-content-type-options", "referrer-policy", "cache-control"):
            assert r.headers[name] == dashboard.headers[name], (path, name)
    assert client.get("/openapi.json").json()["paths"]["/v1/events"]
