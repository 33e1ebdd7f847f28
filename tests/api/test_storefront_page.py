"""The demo storefront's server side: one page shell for every shop route with the first publishable
key injected (never a secret key), a policy that keeps every other host out, local placeholder
pictures, and a switch to turn it off. (The page itself runs in Chromium: tests/web/test_storefront.py.)"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from graphrec.config import Settings
from tests.api.conftest import API_KEY
from tests.api.test_docs_offline import references

PK = "pk_demo_1"
ORIGIN = "http://testserver"  # the pages are on the API's own origin


def config_of(html: str) -> dict[str, object]:
    m = re.search(r'<script id="graphrec-config" type="application/json">(.*?)</script>', html, re.S)
    assert m, "no config element"
    value: dict[str, object] = json.loads(m.group(1))
    return value


@pytest.fixture
def shop(settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings.model_copy(update={"publishable_keys": f"{PK}, pk_demo_2", "publishable_origins": ORIGIN}))
    ) as c:
        yield c


@pytest.mark.parametrize(
    "path",
    [
        "/demo",
        "/demo/cart",
        "/demo/item/i7",
        "/demo/item/sku 9 ü",
        "/demo/category/Sci-Fi",
        "/demo/category/Books %26 more",
    ],
)
def test_every_shop_route_is_the_page_with_the_publishable_key(shop: TestClient, path: str) -> None:
    r = shop.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert config_of(r.text) == {"base": "/demo", "key": PK}  # the first publishable key, by name
    assert API_KEY not in r.text and "other-key" not in r.text  # the secret keys never reach a page
    assert r.headers["cache-control"] == "no-store"
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp


def test_the_page_loads_only_this_servers_files(shop: TestClient) -> None:
    page = shop.get("/demo").text
    urls = references(page)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert not re.search(r"https?://", page)
    for url in [u for u in urls if u.startswith("/static/")]:
        assert shop.get(url).status_code == 200, url
    script = shop.get("/static/demo/storefront.js").text
    assert not re.search(r"https?://", script)  # the script talks to its own origin only


def test_without_a_publishable_key_the_page_gets_none(client: TestClient) -> None:
    # client: secret keys only. The page still loads (it says that nothing is recorded).
    r = client.get("/demo")
    assert r.status_code == 200 and config_of(r.text) == {"base": "/demo", "key": None}
    assert API_KEY not in r.text


def test_the_key_cannot_break_out_of_the_config_element(settings: Settings) -> None:
    hostile = "pk_</script><script>alert(1)</script>&"
    with TestClient(
        create_app(settings.model_copy(update={"publishable_keys": hostile, "publishable_origins": ORIGIN}))
    ) as c:
        html = c.get("/demo").text
    assert "<script>alert(1)" not in html
    assert config_of(html)["key"] == hostile


def test_unknown_shop_routes_are_404(shop: TestClient) -> None:
    assert shop.get("/demo/nothing-here").status_code == 404
    assert shop.get("/demo/item/").status_code == 404


def test_placeholder_pictures(shop: TestClient) -> None:
    r = shop.get("/demo/img/i7")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    svg = ElementTree.fromstring(r.text)
    assert svg.tag.endswith("svg") and svg.get("aria-label") == "i7"
    assert r.content == shop.get("/demo/img/i7").content  # deterministic: cacheable
    assert shop.get("/demo/img/i8").content != r.content
    odd = shop.get("/demo/img/" + "<b>&\"x'")  # escaped into well-formed XML
    assert odd.status_code == 200 and ElementTree.fromstring(odd.text).get("aria-label") == "<b>&\"x'"
    bad = shop.get("/demo/img/i7%20")  # an id with trailing whitespace: refused like everywhere else
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "item_id"


def test_the_storefront_can_be_switched_off(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"demo_storefront": False}))) as c:
        assert c.get("/demo").status_code == 404
        assert c.get("/demo/img/i7").status_code == 404
        assert c.get("/docs").status_code == 200  # the API's own docs stay
