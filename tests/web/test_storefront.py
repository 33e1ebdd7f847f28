"""The demo storefront in a real browser (issue 15, point 7): Debian's headless Chromium, driven by
``playwright-core`` (``web/e2e``; it never downloads a browser; ``make browser`` installs Chromium).

The real API runs on a loopback port over a real embedded FalkorDB with a small synthetic shop (six
categories, a trained and published model) and a publishable key; ``web/e2e/storefront.mjs`` makes a
30-second visit as a new visitor (looks around before answering the consent banner, accepts, browses
one category's products with dwell and scrolling, goes home in a narrower window where the
"Recommended for you" row clips some of its cards, adds to the cart, closes the page right after a last
add-to-cart). Then, against the store and the event log, not the page's word:

* nothing was sent or stored before consent;
* every event the page handed to ``fetch`` or ``sendBeacon`` arrived exactly once (event log and edge
  counts), and nothing is left in the tracker's queue;
* the last add-to-cart arrived through the ``pagehide`` beacon;
* each edge's aggregates and weight are what the weighting policy makes of those events;
* "Recommended for you" went from trending items to a row dominated by the browsed category;
* the row's cards became impressions of its list (``POST /v1/impressions``) only when at least half of
  one was in view for a second, and never interactions: no scroll event for any card, no event at all
  for a product the visitor did not open;
* ``/docs`` renders with every other host blocked.

Artifacts (git-ignored) in ``test-artifacts/storefront/``: screenshots (before.png, after.png,
product.png, after-return.png, docs.png), the page's record (visit.json) and a summary of the events
the server received (events-summary.json). Chromium, node and the API are stopped even on failure.
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from deadlines import WAIT_S, wait_until

from graphrec import demo
from graphrec.config import Settings
from graphrec.events.log import EventLog
from graphrec.events.pipeline import current_dwell_cap
from graphrec.events.policy import WeightPolicy, load_policy
from graphrec.graph.falkordb_store import FalkorDBStore
from graphrec.graph.records import Interaction
from graphrec.ids import anonymous_node_id
from tests.live_api import REPO, free_port, start_api, stop_api
from tests.web.browser import CHROMIUM, run_node
from tests.web.shop import stocked_store

pytestmark = pytest.mark.slow  # about a minute and a half on 2 cores: run by make test and CI

ARTIFACTS = REPO / "test-artifacts" / "storefront"
PUBLISHABLE = "pk_storefront_e2e"
SECRET = "storefront-e2e-secret"
CATEGORY = "Comedy"
ROW = 8  # the storefront's "Recommended for you" row


@dataclass(frozen=True)
class Shop:
    url: str
    settings: Settings
    store: FalkorDBStore
    log: EventLog


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A shop of six categories whose shoppers keep to a category, a published model, the API serving it."""
    root = tmp_path_factory.mktemp("storefront")
    settings, store = stocked_store(root, "shop", interactions=20_000, seed=3, categories=6, category_focus=0.8)
    proc = None
    try:
        assert demo.describe_for_storefront(store) > 0  # pages, pictures and prices, as `make demo` gives them
        port = free_port()
        env = {
            "GRAPHREC_DATA_DIR": str(root),
            "GRAPHREC_GRAPH_URI": settings.graph_uri,
            "GRAPHREC_FALKORDB_GRAPH": "shop",
            "GRAPHREC_API_KEYS": SECRET,
            "GRAPHREC_PUBLISHABLE_KEYS": PUBLISHABLE,
            "GRAPHREC_PUBLISHABLE_ORIGINS": f"http://127.0.0.1:{port}",
            "GRAPHREC_MODEL_POLL_S": "0.5",
        }
        # The API starts (seconds of imports) while the model trains; it picks the model up once published.
        with ThreadPoolExecutor(1) as pool:
            starting = pool.submit(start_api, env, port, log=root / "api.log")
            try:
                version = demo.train_and_publish(store, settings, epochs=4)
            finally:
                proc = starting.result()
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"{url}/v1/model", headers={"X-API-Key": SECRET}).json().get("version") == version,
            what=f"the API to load the published model {version}",
            interval_s=0.2,
        )
        yield Shop(url, settings, store, EventLog(settings.event_log_file))
    finally:
        if proc is not None:
            stop_api(proc)
        store.close()


@pytest.fixture(scope="module")
def visit(shop: Shop, e2e_installed: Path) -> dict[str, Any]:
    """Run the scripted visit once; its record (visit.json) for every test of this module."""
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    out = run_node(
        ["storefront.mjs", "--base", shop.url, "--category", CATEGORY, "--out", str(ARTIFACTS), "--chromium", CHROMIUM],
        cwd=e2e_installed,
        timeout_s=150,
    )
    proc_returncode, text = out
    (ARTIFACTS / "node.log").write_text(text)
    assert proc_returncode == 0, text[-4000:]
    record: dict[str, Any] = json.loads((ARTIFACTS / "visit.json").read_text())
    assert record.get("error") is None, record["error"]
    return record


# -- what the page handed over -------------------------------------------------------------------------


def sends(visit: dict[str, Any]) -> list[dict[str, Any]]:
    """The event batches the page gave to fetch (POST /v1/events) or sendBeacon, in order."""
    return [s for s in visit["sent"] if s["via"] in ("fetch", "beacon") and "/v1/events" in s["url"]]


def sent_events(visit: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event the page sent, each with the transport it went by."""
    return [dict(e, via=s["via"]) for s in sends(visit) for e in json.loads(s["body"])["events"]]


def received(shop: Shop, visit: dict[str, Any]) -> tuple[list[Interaction], list[Any]]:
    """The visitor's edges and logged events, once the store has them all (the beacon lands after the
    page is gone; poll until they are there, at most WAIT_S, then take what is there)."""
    actor = anonymous_node_id(visit["anonymous_id"])
    expected = {e["event_id"] for e in sent_events(visit)}
    deadline = time.monotonic() + WAIT_S
    while True:
        logged = shop.log.user_events(actor)
        if {e.event_id for e in logged} >= expected or time.monotonic() > deadline:
            return shop.store.user_interactions(user_id=actor, limit=1_000), logged
        time.sleep(0.2)


# -- the checks ----------------------------------------------------------------------------------------


def test_nothing_is_sent_or_stored_before_consent(visit: dict[str, Any], shop: Shop) -> None:
    before = visit["before_consent"]
    assert before["consent_visible"] is True
    assert before["sent"] == [], "the page sent requests before the visitor answered the banner"
    assert before["stored"] == [], "the tracker stored ids before the visitor answered the banner"
    events = sent_events(visit)
    assert events and all(e["timestamp"] >= visit["consent_at"] for e in events)
    assert all(s["at"] >= visit["consent_at"] for s in sends(visit))
    # and the store agrees: this visitor's first edge is no older than the consent
    edges, _ = received(shop, visit)
    assert edges and min(e.first_ts for e in edges) >= visit["consent_at"]


def test_every_event_arrived_exactly_once(visit: dict[str, Any], shop: Shop) -> None:
    events = sent_events(visit)
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was handed over twice"
    assert visit["queue_after_close"] == [], "events were left in the tracker's queue"
    assert {e["anonymous_id"] for e in events} == {visit["anonymous_id"]} and all("user_id" not in e for e in events)
    fetched = [s for s in visit["sent"] if s["via"] == "response" and "/v1/events" in s["url"]]
    assert fetched and all(r["status"] == 202 for r in fetched), [r["status"] for r in fetched]
    # the row reports what it showed (the feedback loop): every personal row's items, each list once
    shown = [s for s in visit["sent"] if s["via"] == "response" and "/v1/impressions" in s["url"]]
    assert shown and all(r["status"] == 202 and r["body"]["recorded"] > 0 for r in shown), shown
    assert sum(r["body"]["collapsed"] + r["body"]["duplicates"] + r["body"]["flagged"] for r in fetched) == 0
    edges, logged = received(shop, visit)
    assert Counter(e.event_id for e in logged) == Counter(ids), "the event log differs from what the page sent"
    by_item = Counter(e["item_id"] for e in events)
    assert {e.item_id: e.count for e in edges} == dict(by_item)


def expected_edges(
    events: list[dict[str, Any]], policy: WeightPolicy, dwell_cap_s: float
) -> dict[str, tuple[Counter[str], dict[str, float], float]]:
    """Per item: type counts, value sums (values capped as the policy says) and the policy's weight."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    weight: dict[str, float] = defaultdict(float)
    for e in events:
        value = e.get("value")
        cap = policy.value_cap(e["type"], dwell_cap_s=dwell_cap_s)
        if value is not None and cap is not None:
            value = min(value, cap)
        counts[e["item_id"]][e["type"]] += 1
        if value is not None:
            sums[e["item_id"]][e["type"]] += value
        weight[e["item_id"]] += policy.event_weight(e["type"], value)
    return {i: (counts[i], dict(sums[i]), weight[i]) for i in counts}


def test_weights_follow_the_policy(visit: dict[str, Any], shop: Shop) -> None:
    policy = load_policy(shop.settings.events_policy_path)
    expected = expected_edges(sent_events(visit), policy, current_dwell_cap(shop.store, policy))
    edges, _ = received(shop, visit)
    assert {e.item_id for e in edges} == set(expected)
    for edge in edges:
        counts, sums, weight = expected[edge.item_id]
        assert dict(edge.type_counts) == dict(counts), edge.item_id
        assert dict(edge.value_sums) == pytest.approx(sums), edge.item_id
        assert edge.weight == pytest.approx(weight), edge.item_id
        assert edge.weight == pytest.approx(policy.weight_of(edge.type_counts, edge.value_sums))
    kinds = Counter(e["type"] for e in sent_events(visit))
    assert {"view", "click", "dwell", "scroll", "add_to_cart"} <= set(kinds), kinds
    # what the policy ranks: each product put in the cart weighs more than any product only looked at
    viewed_only = {p["item_id"] for p in visit["viewed"]} - set(visit["carted"])
    assert min(expected[i][2] for i in visit["carted"]) > max(expected[i][2] for i in viewed_only)


def test_the_last_add_to_cart_left_in_the_pagehide_beacon(visit: dict[str, Any], shop: Shop) -> None:
    last = visit["carted"][-1]
    beacons = [s for s in visit["sent"] if s["via"] == "beacon"]
    assert beacons, "nothing was handed to navigator.sendBeacon when the page closed"
    assert all(b["ok"] for b in beacons) and all(b["at"] >= visit["closed_at"] for b in beacons)
    # Chromium fires pagehide (still visible), then visibilitychange: the queue must go at pagehide
    assert [b["during"] for b in beacons] == ["pagehide"] * len(beacons), "the beacon did not leave on pagehide"
    assert all(f"?key={PUBLISHABLE}" in b["url"] for b in beacons)  # the beacon cannot send headers
    in_beacon = [e for b in beacons for e in json.loads(b["body"])["events"]]
    carts = [e for e in in_beacon if e["type"] == "add_to_cart" and e["item_id"] == last]
    assert len(carts) == 1, in_beacon
    _, logged = received(shop, visit)
    assert carts[0]["event_id"] in {e.event_id for e in logged}, "the beacon's events never arrived"


def test_impressions_only_for_cards_in_view_and_no_interactions_for_cards(visit: dict[str, Any], shop: Shop) -> None:
    posts = [s for s in visit["sent"] if "/v1/impressions" in s["url"]]
    reports = [(s["n"], json.loads(s["body"])) for s in posts if s["via"] == "fetch"]
    answers = {s["n"]: s for s in posts if s["via"] == "response"}
    lists = {visit[row]["recommendation_id"] for row in ("row_at_consent", "row_after")} - {None}
    assert reports and {r["recommendation_id"] for _, r in reports} <= lists, "only recommendation rows report"
    assert all(r["anonymous_id"] == visit["anonymous_id"] for _, r in reports)
    # the row at home after browsing: cards in view for 2.5 s, the last ones clipped by the row's scroller
    seen = visit["row_seen"]
    assert seen["state"] == "personal" and seen["recommendation_id"] == visit["row_after"]["recommendation_id"]
    reported = [i for _, r in reports if r["recommendation_id"] == seen["recommendation_id"] for i in r["item_ids"]]
    assert len(reported) == len(set(reported)), "an item was reported twice for one list"
    in_view = {c["item_id"] for c in seen["items"] if c["visible"] >= 0.55}
    clipped = {c["item_id"] for c in seen["items"] if c["visible"] < 0.45}
    assert in_view and clipped, seen["items"]  # the narrow window shows some cards and hides others
    assert in_view <= set(reported), (reported, seen["items"])
    assert not clipped & set(reported), (reported, seen["items"])
    # the server recorded each (list, item) once
    assert all(answers[n]["status"] == 202 for n, _ in reports), answers
    unique = {(r["recommendation_id"], i) for _, r in reports for i in r["item_ids"]}
    assert sum(answers[n]["body"]["recorded"] for n, _ in reports) == len(unique)

    # seeing, scrolling past or dwelling near a card is no interaction: every event is about a product
    # the visitor opened, and scroll depth only ever about the product page's own item
    events = sent_events(visit)
    opened = {p["item_id"] for p in visit["viewed"]}
    assert {e["item_id"] for e in events} <= opened, sorted({e["item_id"] for e in events} - opened)
    scrolls = [e for e in events if e["type"] == "scroll"]
    assert scrolls and all((e.get("context") or {}).get("page_section") is None for e in scrolls), scrolls
    edges, _ = received(shop, visit)
    assert {e.item_id for e in edges} <= opened


def category_share(row: dict[str, Any], category: str) -> float:
    return sum(item["category"] == category for item in row["items"]) / max(1, len(row["items"]))


def test_recommended_for_you_learns_the_category(visit: dict[str, Any], shop: Shop) -> None:
    before, after, final = visit["row_before"], visit["row_after"], visit["row_final"]
    assert before["state"] == "popular" and len(before["items"]) == ROW
    assert after["state"] == "personal" and final["state"] == "personal"
    assert all(p["category"] == CATEGORY for p in visit["viewed"])
    for row in (after, final):
        assert len(row["items"]) == ROW
        shares = Counter(item["category"] for item in row["items"])
        assert shares.most_common(1)[0][0] == CATEGORY and category_share(row, CATEGORY) >= 0.6, shares
        assert not {item["item_id"] for item in row["items"]} & set(visit["cart"]), "a cart item was recommended"
    assert category_share(after, CATEGORY) > category_share(before, CATEGORY)
    assert any(item["fresh"] for item in after["items"]), "the row's new items are not highlighted"
    # the API says the same without the page (its answer for this visitor, the cart excluded)
    body = httpx.get(
        f"{shop.url}/v1/anonymous/{visit['anonymous_id']}/recommendations",
        params={"k": ROW, "exclude": visit["cart"]},
        headers={"X-API-Key": SECRET},
    ).json()
    api_row = {"items": [{"item_id": d["item_id"], "category": (d["categories"] or [None])[0]} for d in body["data"]]}
    assert body["cold_start"] is False and category_share(api_row, CATEGORY) >= 0.6, body["data"]
    assert not {d["item_id"] for d in body["data"]} & set(visit["cart"])


def test_the_pages_work_offline(visit: dict[str, Any], shop: Shop) -> None:
    assert visit["blocked"] == [] and visit["docs_blocked"] == [], "a page asked another host"
    assert visit["page_errors"] == [] and visit["console"] == []
    # Swagger UI rendered every operation of the API's document from the package's own files
    doc = httpx.get(f"{shop.url}/openapi.json").json()
    operations = sum(m in ("get", "put", "post", "delete", "patch") for ops in doc["paths"].values() for m in ops)
    assert visit["docs"]["title"].startswith("graphrec") and visit["docs"]["operations"] == operations


def test_artifacts(visit: dict[str, Any], shop: Shop) -> None:
    """Screenshots are PNGs; events-summary.json says what a 30-second visit sent and the server received."""
    for name in ("before.png", "after.png", "product.png", "after-return.png", "docs.png"):
        assert (ARTIFACTS / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert visit["visit_s"] >= 25
    events = sent_events(visit)
    edges, logged = received(shop, visit)
    bundle = (REPO / "api" / "static" / "demo" / "tracker.iife.js").read_bytes()
    summary = {
        "visit_seconds": visit["visit_s"],
        "browser": visit["browser"],
        "anonymous_id": visit["anonymous_id"],
        "requests": Counter(s["via"] for s in sends(visit)),
        "events_sent": len(events),
        "events_logged": len(logged),
        "by_type": Counter(e["type"] for e in events),
        "by_transport": Counter(e["via"] for e in events),
        "by_page_section": Counter((e.get("context") or {}).get("page_section") or "(page)" for e in events),
        "in_the_pagehide_beacon": [(e["type"], e["item_id"], e.get("value")) for e in events if e["via"] == "beacon"],
        "edges": sorted(
            (
                {
                    "item_id": e.item_id,
                    "weight": round(e.weight, 4),
                    "events": e.count,
                    "types": dict(e.type_counts),
                    "values": {k: round(v, 3) for k, v in e.value_sums.items()},
                }
                for e in edges
            ),
            key=lambda e: -float(e["weight"]),
        ),  # type: ignore[arg-type]
        "category": CATEGORY,
        "row_before": Counter(i["category"] for i in visit["row_before"]["items"]),
        "row_after": Counter(i["category"] for i in visit["row_after"]["items"]),
        "row_after_return": Counter(i["category"] for i in visit["row_final"]["items"]),
        "tracker_bundle": {"bytes": len(bundle), "gzip_bytes": len(gzip.compress(bundle, compresslevel=9))},
    }
    (ARTIFACTS / "events-summary.json").write_text(json.dumps(summary, indent=2))
    assert summary["events_sent"] == summary["events_logged"]
