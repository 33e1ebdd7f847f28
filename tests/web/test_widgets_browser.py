"""The widgets on a shop of another origin (issue 28, point 4 and its acceptance test): Debian's headless
Chromium, driven by ``playwright-core`` (``web/e2e/widgets.mjs``; it never downloads a browser).

The real API runs on ``127.0.0.1:<port>`` over a real embedded FalkorDB with a small synthetic shop (a
trained and published model, pages, pictures and prices as ``make demo`` gives them), configured as the
README says for a page elsewhere: ``GRAPHREC_CORS_ORIGINS`` and ``GRAPHREC_PUBLISHABLE_ORIGINS`` name the
shop's origin. The shop (``tests/web/other_origin.py``, pages in ``web/e2e/widget-shop/``) is served from
``http://shop.example:<another port>`` (Chromium maps the name to 127.0.0.1): another host name and port,
so every API call of the page is cross-origin. Its pages use the README's script-tag form
(``tracker.iife.js`` with ``data-endpoint``, ``widgets.iife.js``) and the four widgets.

The API runs with the caching a shop gets by default: shared lists (trending, similar, bought together,
catalogue reads) go out as ``public, max-age=0, s-maxage=30`` with an ETag, so Chromium keeps them and
revalidates each before reuse.

The visit (see ``widgets.mjs``): a new visitor looks around before answering the consent banner, grants
analytics only (the shop's "Only analytics"), opens a product and comes back, turns personalisation on,
browses a product and its similar items, the shop's back office marks the top item of each list
unavailable (catalogue upserts), the visitor opens the first product again and goes home in a narrow
window where the personal row is first below the fold and then in view with its last cards clipped,
clicks one of its cards, saves that product to the wishlist (a custom event) and buys three of it at its
catalogue price. Then, against the API, its feedback table and what Chromium put on the wire, not the
page's word:

* nothing was sent, stored or asked about the visitor before consent, while the widgets already showed
  shared lists;
* with analytics granted and personalisation refused, events were sent but no list naming the visitor was
  asked for or served, and the personal row showed the generic list; turning personalisation on reloaded
  it as the visitor's;
* every widget rendered its list from the other origin (CORS), with the shop's own links and the API's
  pictures, and the personal row became the visitor's list (with its ``recommendation_id``);
* impressions were reported, and recorded by the API (``GET /v1/feedback``), only for cards at least half
  in view for a second: none while the row was below the fold, none for its clipped cards;
* an item made unavailable was never shown again by any widget (the product whose similar and
  bought-together lists held one is opened again), and the API's lists leave it out; the browser asked
  again for each shared list it held (If-None-Match) rather than reusing it;
* the click on a card and the purchase that followed were attributed to the row's list, the purchase's
  revenue (price x quantity, in its currency) and the custom event with it.

Artifacts (git-ignored) in ``test-artifacts/widgets/``: screenshots, the page's record (visit.json) and
node's log. Chromium, node, the shop and the API are stopped even on failure.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from deadlines import wait_until

from graphrec import demo
from graphrec.events.log import EventLog
from graphrec.ids import anonymous_node_id
from tests.live_api import REPO, free_port, start_api, stop_api
from tests.web.browser import CHROMIUM, run_node
from tests.web.other_origin import OtherOrigin, other_origin_shop
from tests.web.shop import stocked_store

pytestmark = pytest.mark.slow  # about a minute and a half on 2 cores: run by make test and CI

ARTIFACTS = REPO / "test-artifacts" / "widgets"
PUBLISHABLE = "pk_widgets_e2e"
SECRET = "widgets-e2e-secret"
SHOP_HOST = "shop.example"  # mapped to 127.0.0.1 inside Chromium only
WIDGETS = {"trending", "recs", "similar", "bought-together"}  # the widgets' element ids on the shop's pages


@dataclass(frozen=True)
class Api:
    url: str
    shop: OtherOrigin
    shop_url: str
    product: str  # the product the visitor opens: it has similar items and items bought with it
    log: EventLog  # its file also holds the feedback records (served lists, impressions, outcomes)

    def get(self, path: str, **params: Any) -> Any:
        r = httpx.get(f"{self.url}{path}", params=params, headers={"X-API-Key": SECRET}, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        return r.json()


def pick_product(url: str) -> str:
    """A trending item with at least three items bought together with it and three similar ones."""
    headers = {"X-API-Key": SECRET}
    for d in httpx.get(f"{url}/v1/items/popular", params={"k": 60}, headers=headers).json()["data"]:
        together = httpx.get(f"{url}/v1/items/{d['item_id']}/bought-together", params={"k": 6}, headers=headers)
        similar = httpx.get(f"{url}/v1/items/{d['item_id']}/similar", params={"k": 6}, headers=headers)
        if together.json()["count"] >= 3 and similar.json()["count"] >= 3:
            return str(d["item_id"])
    raise AssertionError("no trending item has both similar items and items bought together with it")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, starts_processes: None) -> Iterator[Api]:
    """The shop on its own origin, and the API with CORS and the publishable key for that origin only."""
    root = tmp_path_factory.mktemp("widgets")
    settings, store = stocked_store(root, "widgets", interactions=20_000, seed=11, categories=6, category_focus=0.8)
    with ExitStack() as stack:
        stack.callback(store.close)
        assert demo.describe_for_storefront(store) > 0  # pages, pictures and prices, as `make demo` gives them
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        shop = stack.enter_context(other_origin_shop(api=url, key=PUBLISHABLE))
        shop_url = f"http://{SHOP_HOST}:{shop.port}"
        env = {
            "GRAPHREC_DATA_DIR": str(root),
            "GRAPHREC_GRAPH_URI": settings.graph_uri,
            "GRAPHREC_FALKORDB_GRAPH": "widgets",
            "GRAPHREC_API_KEYS": SECRET,
            "GRAPHREC_PUBLISHABLE_KEYS": PUBLISHABLE,
            # what the README says a page elsewhere needs: its origin for CORS and for the publishable key
            "GRAPHREC_CORS_ORIGINS": shop_url,
            "GRAPHREC_PUBLISHABLE_ORIGINS": shop_url,
            "GRAPHREC_MODEL_POLL_S": "0.5",
            # and nothing about caching: shared lists go out as a shop gets them by default (max-age=0,
            # s-maxage=30), so the browser keeps them and revalidates each (see test_shared_lists_are_...)
        }
        with ThreadPoolExecutor(1) as pool:
            starting = pool.submit(start_api, env, port, log=root / "api.log")
            try:
                version = demo.train_and_publish(store, settings, epochs=4)
            finally:
                stack.callback(stop_api, starting.result())
        wait_until(
            lambda: httpx.get(f"{url}/v1/model", headers={"X-API-Key": SECRET}).json().get("version") == version,
            what=f"the API to load the published model {version}",
            interval_s=0.2,
        )
        yield Api(url, shop, shop_url, pick_product(url), EventLog(settings.event_log_file))
        assert shop.errors == [], shop.errors


@pytest.fixture(scope="module")
def visit(api: Api, e2e_installed: Path) -> dict[str, Any]:
    """Run the scripted visit once; its record (visit.json) for every test of this module."""
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    code, text = run_node(
        ["widgets.mjs", "--shop", api.shop_url, "--api", api.url, "--secret", SECRET, "--product", api.product]
        + ["--out", str(ARTIFACTS), "--chromium", CHROMIUM],
        cwd=e2e_installed,
        timeout_s=180,
    )
    (ARTIFACTS / "node.log").write_text(text)
    assert code == 0, text[-4000:]
    record: dict[str, Any] = json.loads((ARTIFACTS / "visit.json").read_text())
    assert record.get("error") is None, record["error"]
    return record


# -- what the page recorded ----------------------------------------------------------------------------------


def entries(visit: dict[str, Any], via: str) -> list[dict[str, Any]]:
    return [e for e in visit["record"] if e["via"] == via]


def renders(visit: dict[str, Any], *, after: int = 0) -> list[dict[str, Any]]:
    return [r for r in entries(visit, "render") if r["at"] >= after]


def impression_reports(visit: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each POST /v1/impressions the page made, with the API's answer to it."""
    answers = {e["n"]: e for e in entries(visit, "response") if e["url"].endswith("/v1/impressions")}
    posts = [e for e in entries(visit, "fetch") if e["method"] == "POST" and e["url"].endswith("/v1/impressions")]
    return [(json.loads(p["body"]), answers[p["n"]]) for p in posts]


def api_calls(visit: dict[str, Any], *, since: int = 0, until: float = float("inf")) -> list[dict[str, Any]]:
    """The API calls (``/v1/...``) Chromium made in [since, until), as it saw them on the wire."""
    return [e for e in visit["network"] if "/v1/" in e["url"] and since <= e["at"] < until]


def path_of(api: Api, entry: dict[str, Any]) -> str:
    return str(entry["url"]).removeprefix(api.url)


def is_shared(api: Api, entry: dict[str, Any]) -> bool:
    """A shared list or catalogue read: trending, similar, bought together, an item."""
    p = path_of(api, entry).split("?")[0]
    return entry["method"] == "GET" and p.startswith("/v1/items/")


def feedback_records(api: Api, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of the API's feedback records (read only; ``GET /v1/feedback`` first writes out the served lists
    the API still holds in memory)."""
    api.get("/v1/feedback")
    with sqlite3.connect(f"file:{api.log.path}?mode=ro", uri=True) as db:
        return db.execute(sql, args).fetchall()


def sent_events(visit: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event the page sent (fetch or beacon)."""
    return [
        e
        for s in entries(visit, "fetch") + entries(visit, "beacon")
        if s["url"].split("?")[0].endswith("/v1/events") and s["body"]
        for e in json.loads(s["body"])["events"]
    ]


def visitor_feedback(api: Api, visit: dict[str, Any]) -> dict[str, int]:
    """What the API recorded for this visit's visitor (its feedback tables, read-only): impressions, and the
    clicks and purchases it attributed to a list. The module's API saw no one else (its event log is the
    module's own: ``tests/conftest.py``), so ``GET /v1/feedback``'s totals must say the same
    (:func:`test_the_apis_totals_are_this_visitors`)."""
    actor = anonymous_node_id(visit["anonymous_id"])
    with sqlite3.connect(f"file:{api.log.path}?mode=ro", uri=True) as db:
        (impressions,) = db.execute("SELECT count(*) FROM impressions WHERE actor = ?", (actor,)).fetchone()
        outcomes = dict(db.execute("SELECT type, count(*) FROM outcomes WHERE actor = ? GROUP BY type", (actor,)))
    return {"impressions": impressions, "clicks": outcomes.get("click", 0), "purchases": outcomes.get("purchase", 0)}


# -- the checks ------------------------------------------------------------------------------------------------


def test_nothing_is_sent_stored_or_asked_about_the_visitor_before_consent(visit: dict[str, Any], api: Api) -> None:
    before = visit["before_consent"]
    assert visit["consent_visible"] and before["consent_visible"]
    assert before["stored"] == [], "the tracker stored ids before the visitor answered the banner"
    requests = [e for e in before["record"] if e["via"] in ("fetch", "beacon")]
    assert [e for e in requests if e["via"] == "beacon" or e["method"] != "GET"] == [], "the page sent before consent"
    named = [e["url"] for e in requests if "/v1/anonymous/" in e["url"] or "/v1/users/" in e["url"]]
    assert named == [], "a list naming a visitor was asked for before consent"
    # meanwhile the widgets showed shared lists: trending at home (also in the personal row's place),
    # similar and bought together on the product page
    shown = {(r["widget"], r["list"]) for r in before["record"] if r["via"] == "render" and r["items"]}
    assert {("trending", "trending"), ("recs", "trending"), ("similar", "similar")} <= shown, shown
    assert ("bought-together", "bought-together") in shown, shown
    # and the API agrees: this visitor's first event is no older than the consent
    actor = anonymous_node_id(visit["anonymous_id"])
    wait_until(lambda: api.log.user_events(actor), what="the visitor's events in the event log")
    assert min(e.ts for e in api.log.user_events(actor)) >= visit["consent_at"]


def test_analytics_without_personalisation_asks_for_no_personal_list_until_it_is_granted(
    visit: dict[str, Any], api: Api
) -> None:
    only, aid = visit["analytics_only"], visit["anonymous_id"]
    assert only["purposes"] == {"analytics": True, "personalisation": False} and only["anonymous_id"] == aid
    assert only["personalise_visible"] and visit["personalise_hidden_after"]
    # the personal row showed the generic list (its fallback, trending: no list id, nothing to report) at once
    # and on the next page, where the answer was read back from storage
    for shown in (only["at_consent"], only["after_reload"]):
        assert (shown["list"], shown["state"], shown["recommendation_id"]) == ("trending", "fallback", None), shown
        assert shown["items"]
    # on the wire: events went out (analytics), the generic list was asked for, nothing naming the visitor
    # was, and no impression was reported (a shared list has none)
    window = api_calls(visit, since=visit["consent_at"], until=visit["personalised_at"])
    calls = [(e["method"], path_of(api, e)) for e in window]
    assert ("GET", "/v1/items/popular?k=8") in calls, calls  # the personal row's k=8, as the generic list
    assert ("POST", "/v1/events") in calls, calls
    assert not [c for c in calls if "/v1/anonymous/" in c[1] or "/v1/users/" in c[1] or c[1] == "/v1/impressions"]
    # the API agrees: it logged the visitor's view of the product meanwhile, and served it no list before
    # personalisation was granted
    actor = anonymous_node_id(aid)
    wait_until(lambda: api.log.user_events(actor), what="the visitor's events in the event log")
    early = [e for e in api.log.user_events(actor) if e.ts < visit["personalised_at"]]
    assert ("view", api.product) in {(e.type, e.item_id) for e in early}
    served = feedback_records(api, "SELECT rec_id, created_ms FROM served WHERE actor = ?", actor)
    assert served and min(created for _, created in served) >= visit["personalised_at"], served
    # granted: the row reloaded as the visitor's own list, one the API served to this visitor
    personal = [e for e in api_calls(visit, since=visit["personalised_at"]) if "/v1/anonymous/" in e["url"]]
    assert personal and path_of(api, personal[0]).startswith(f"/v1/anonymous/{aid}/recommendations?")
    assert personal[0]["status"] == 200
    row = visit["row_at_consent"]
    assert row["list"] == "recommendations" and row["recommendation_id"] in {rec for rec, _ in served}


def test_the_browser_revalidates_every_shared_list_it_holds(visit: dict[str, Any], api: Api) -> None:
    calls = api_calls(visit)
    shared = [e for e in calls if is_shared(api, e)]
    assert shared and {e["cache_control"] for e in shared} == {"public, max-age=0, s-maxage=30"}
    personal = [e for e in calls if "/v1/anonymous/" in e["url"]]
    assert personal and not [e for e in personal if e["etag"] or "public" in (e["cache_control"] or "")]
    # a list shown again was asked for again with the copy's ETag: unchanged, the same ETag came back (a 304)
    again = [e for e in shared if e["if_none_match"]]
    assert [e for e in again if e["etag"] == e["if_none_match"]], again
    # after the back office hid the top item of each list, the lists that held one were not reused from
    # the browser's cache: asked for with the old ETag, each came back as a new answer
    hidden_at = visit["hidden_at"]
    for path in ("/v1/items/popular?k=6", f"/v1/items/{api.product}/similar?k=6"):
        later = [e for e in shared if e["at"] >= hidden_at and path_of(api, e) == path]
        assert later and later[0]["if_none_match"], (path, later)
        assert later[0]["status"] == 200 and later[0]["etag"] != later[0]["if_none_match"], (path, later)
    together = f"/v1/items/{api.product}/bought-together?k=6"
    later = [e for e in shared if e["at"] >= hidden_at and path_of(api, e) == together]
    assert later and later[0]["if_none_match"] and later[0]["etag"] != later[0]["if_none_match"], later


def test_the_page_of_another_origin_calls_the_api_through_cors(visit: dict[str, Any], api: Api) -> None:
    assert httpx.URL(api.shop_url).host != httpx.URL(api.url).host and api.shop.port != httpx.URL(api.url).port
    responses = entries(visit, "response")
    assert responses and all(200 <= r["status"] < 300 for r in responses), sorted(
        {(r["status"], r["url"]) for r in responses if not 200 <= r["status"] < 300}
    )
    kinds = {(r["method"], r["url"].split("?")[0].rsplit("/", 1)[-1]) for r in responses}
    assert {("POST", "events"), ("POST", "impressions"), ("GET", "recommendations"), ("GET", "popular")} <= kinds
    assert visit["page_errors"] == [] and visit["console"] == [], visit["console"] + visit["page_errors"]
    assert visit["queue_after_close"] == [], "events were left in the tracker's queue"
    # the pages came from the shop's own server, the bundles included
    pages = {"/", "/static/tracker.iife.js", "/static/widgets.iife.js", f"/product/{api.product}"}
    assert pages <= set(api.shop.requests)


def test_every_widget_renders_its_list_with_the_shops_links_and_the_apis_pictures(
    visit: dict[str, Any], api: Api
) -> None:
    after = renders(visit, after=visit["consent_at"])
    shown = {(r["widget"], r["list"]) for r in after if r["items"]}
    expected = {("trending", "trending"), ("recs", "recommendations"), ("similar", "similar")}
    assert expected | {("bought-together", "bought-together")} <= shown, shown
    # only the personal list has an id (to report impressions of); a shared list is the same for everyone
    assert all(r["recommendation_id"] for r in after if r["list"] == "recommendations")
    assert not [r for r in after if r["list"] != "recommendations" and r["recommendation_id"]]
    for r in after:
        assert len(r["links"]) == len(r["items"]) == len(r["images"])
        # the shop's template links to its own pages; bought together has none, and its default card links to
        # the catalogue's url, which (relative in this catalogue) the widget's base-url resolves to the API host
        page = f"{api.url}/demo/item/" if r["widget"] == "bought-together" else f"{api.shop_url}/product/"
        assert all(link == f"{page}{i}" for link, i in zip(r["links"], r["items"], strict=True)), r["links"]
        assert all(src == f"{api.url}/demo/img/{i}" for src, i in zip(r["images"], r["items"], strict=True))
    seen = visit["row_seen"]
    assert seen["list"] == "recommendations" and seen["recommendation_id"]
    assert len(seen["items"]) == 8


def test_impressions_only_for_cards_in_view_recorded_by_the_api(visit: dict[str, Any], api: Api) -> None:
    reports = impression_reports(visit)
    assert reports and all(answer["status"] == 202 for _, answer in reports), reports
    assert all(body["anonymous_id"] == visit["anonymous_id"] for body, _ in reports)
    seen = visit["row_seen"]
    rec = seen["recommendation_id"]
    # below the fold for 2.5 s: nothing; the row's list is reported only after it came into view
    below = visit["row_below"]
    assert below["recommendation_id"] == rec and all(c["visible"] == 0 for c in below["items"])
    posts = [e for e in entries(visit, "fetch") if e["url"].endswith("/v1/impressions")]
    assert not [p for p in posts if visit["below_from"] <= p["at"] <= visit["below_until"]]
    reported = [i for body, _ in reports if body["recommendation_id"] == rec for i in body["item_ids"]]
    in_view = {c["item_id"] for c in seen["items"] if c["visible"] >= 0.55}
    clipped = {c["item_id"] for c in seen["items"] if c["visible"] < 0.45}
    assert in_view and clipped, seen["items"]  # the narrow window shows some cards and clips the rest
    assert in_view <= set(reported) and not clipped & set(reported), (reported, seen["items"])
    assert len(reported) == len(set(reported)), "an item was reported twice for one list"
    # only personal lists are reported (shared lists have no recommendation_id), and the API recorded each
    # (list, item) once: its feedback table counts exactly what the page reported
    rows = {r["recommendation_id"] for r in renders(visit) if r["recommendation_id"]}
    assert {body["recommendation_id"] for body, _ in reports} <= rows
    unique = {(body["recommendation_id"], i) for body, _ in reports for i in body["item_ids"]}
    assert sum(answer["body"]["recorded"] for _, answer in reports) == len(unique)
    assert visitor_feedback(api, visit)["impressions"] == len(unique)


def test_an_item_made_unavailable_is_never_shown_again(visit: dict[str, Any], api: Api) -> None:
    hidden = set(visit["hidden"])
    before = visit["lists_before_hiding"]
    # the top item of the personal, trending, similar and bought-together lists the visitor was about to see
    assert {"recommendations", "trending", "similar", "bought-together"} == {k for k, v in before.items() if v}
    assert hidden == {ids[0] for ids in before.values() if ids}
    for item_id in hidden:
        assert api.get(f"/v1/items/{item_id}")["available"] is False
    later = renders(visit, after=visit["hidden_at"])
    assert {r["widget"] for r in later if r["items"]} == WIDGETS  # every widget rendered a list again
    again = {r["widget"] for r in later if r["page"] == f"/product/{api.product}" and r["items"]}
    assert again == {"similar", "bought-together"}, "the product's own lists, without what was hidden"
    for r in later:
        assert not hidden & set(r["items"]), (r["widget"], r["list"], hidden & set(r["items"]))
    assert not hidden & {c["item_id"] for c in visit["row_seen"]["items"]}
    # nor do the API's lists, for the visitor or anyone
    lists = [
        api.get(f"/v1/anonymous/{visit['anonymous_id']}/recommendations", k=20)["data"],
        api.get("/v1/items/popular", k=50)["data"],
        api.get(f"/v1/items/{api.product}/similar", k=50)["data"],
        api.get(f"/v1/items/{api.product}/bought-together", k=50)["data"],
    ]
    assert not hidden & {d["item_id"] for data in lists for d in data}


def test_the_click_and_the_purchase_are_attributed_to_the_row(visit: dict[str, Any], api: Api) -> None:
    clicked = visit["clicked"]
    assert clicked["recommendation_id"] == visit["row_seen"]["recommendation_id"]
    reported = {i for body, _ in impression_reports(visit) for i in body["item_ids"]}
    assert clicked["item_id"] in reported, "the clicked card was seen first"
    # the page's click event names the list (the card is inside the row's data-recommendation-id)
    sent = sent_events(visit)
    clicks = [e for e in sent if e["type"] == "click" and e["item_id"] == clicked["item_id"]]
    assert [c["context"].get("recommendation_id") for c in clicks] == [clicked["recommendation_id"]]
    purchases = [e for e in sent if e["type"] == "purchase"]
    assert [p["item_id"] for p in purchases] == [visit["purchased"]["item_id"]] == [clicked["item_id"]]
    # the API attributed both to the row's list: one click, one purchase in the feedback table
    wait_until(
        lambda: visitor_feedback(api, visit)["purchases"] == 1,
        what="the purchase to be attributed",
        interval_s=0.2,
    )
    totals = visitor_feedback(api, visit)
    assert totals["clicks"] == 1 and totals["purchases"] == 1, totals


def test_the_purchase_revenue_and_the_custom_event_go_to_the_clicked_list(visit: dict[str, Any], api: Api) -> None:
    bought, rec = visit["purchased"], visit["clicked"]["recommendation_id"]
    item = api.get(f"/v1/items/{bought['item_id']}")
    # the page's data-price / data-currency are the catalogue's, and the purchase carried them
    assert isinstance(item["price"], float) and (bought["price"], bought["currency"]) == (
        item["price"],
        item["currency"],
    )
    sent = sent_events(visit)
    purchases = [
        (p["item_id"], p["price"], p["currency"], p["quantity"], p["order_id"]) for p in sent if p["type"] == "purchase"
    ]
    assert purchases == [(bought["item_id"], item["price"], item["currency"], 3, bought["order_id"])]
    customs = [(c["name"], c["item_id"], c["properties"]) for c in sent if c["type"] == "custom"]
    assert customs == [("wishlist_add", bought["item_id"], {"from": "product_page"})]
    # GET /v1/feedback: the revenue in one row, price x quantity in the item's currency, beside the custom event
    wait_until(
        lambda: [r for r in api.get("/v1/feedback")["data"] if r["revenue"] and r["custom"]],
        what="the purchase's revenue and the custom event in GET /v1/feedback",
        interval_s=0.2,
    )
    rows = [r for r in api.get("/v1/feedback")["data"] if r["revenue"] or r["custom"]]
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["purchases"], row["units"], row["custom"]) == (1, 3, {"wishlist_add": 1}), row
    [revenue] = row["revenue"]
    assert (revenue["currency"], revenue["purchases"], revenue["units"]) == (item["currency"], 1, 3)
    assert revenue["amount"] == pytest.approx(item["price"] * 3, abs=1e-6)
    # the row is the clicked list's (the table groups lists by version, arm, source and segment): the
    # list's model version and the source it gave the item; the records name the list itself
    [(version, ranked)] = feedback_records(api, "SELECT model_version, items FROM served WHERE rec_id = ?", rec)
    assert (row["model_version"], row["source"]) == (version, dict(json.loads(ranked))[bought["item_id"]])
    outcomes = feedback_records(
        api,
        "SELECT rec_id, type, name, quantity, price, currency FROM outcomes WHERE item_id = ? ORDER BY type",
        bought["item_id"],
    )
    assert outcomes == [
        (rec, "add_to_cart", None, None, None, None),
        (rec, "click", None, None, None, None),
        (rec, "custom", "wishlist_add", None, None, None),
        (rec, "purchase", None, 3, item["price"], item["currency"]),
    ], outcomes
    # where the server reports custom events: the dashboard's panel (per name, 7 days)
    assert {"name": "wishlist_add", "events": 1, "actors": 1} in api.get("/v1/dashboard")["custom_events"]


def test_the_apis_totals_are_this_visitors(visit: dict[str, Any], api: Api) -> None:
    """``GET /v1/feedback`` (every list the API served, summed) counts what this visit's visitor did and
    nothing else: the module's API has an event log of its own. (With one log for the whole session, the
    storefront module's visitor showed up here.)"""
    wait_until(
        lambda: visitor_feedback(api, visit)["purchases"] == 1,
        what="the purchase to be attributed",
        interval_s=0.2,
    )
    mine = visitor_feedback(api, visit)
    rows = api.get("/v1/feedback")["data"]
    totals = {k: sum(r[k] for r in rows) for k in ("impressions", "clicks", "purchases")}
    assert totals == mine, (totals, mine)
    with sqlite3.connect(f"file:{api.log.path}?mode=ro", uri=True) as db:
        actors = {a for (a,) in db.execute("SELECT DISTINCT actor FROM served")}
    assert actors == {anonymous_node_id(visit["anonymous_id"])}, actors
