// The widgets on a page of ANOTHER origin than the API, in Debian's headless Chromium, driven by
// playwright-core (which never downloads a browser). tests/web/test_widgets_browser.py starts the API
// and the shop (tests/web/other_origin.py, pages in web/e2e/widget-shop/), runs this script and checks
// what it writes against the API.
//
//   node widgets.mjs --shop http://shop.example:PORT --api http://127.0.0.1:PORT --secret KEY \
//        --product ITEM --out DIR [--chromium /usr/bin/chromium]
//
// The shop's host name is mapped to 127.0.0.1 inside Chromium (--host-resolver-rules), so the page's
// origin differs from the API's in host name and port: every API call is a cross-origin one (CORS
// preflights for the key header, beacons as CORS-simple requests).
//
// The visit is a list of steps (STEPS), each adding to the record: a visitor arrives and looks around
// before answering the consent banner, grants analytics only (the personal row keeps its generic list;
// the visitor opens a product and comes back home), then turns personalisation on (the row reloads as
// the visitor's), browses a product and its similar items, the shop's back office marks items
// unavailable (catalogue upserts with the secret key: the top item of each list the visitor is about
// to see), the visitor opens the first product again, goes home in a narrow window, where the personal
// row is first below the fold (no impression may be reported) and then in view with its last cards
// clipped by its scroller, clicks one of its cards, saves it to the wishlist (a custom event), buys it
// (price, currency, quantity 3 and an order id) and closes the page.
//
// An init script records, in the shop origin's localStorage (it outlives each page): every request the
// page makes to the API (method, URL, POST body, the response's status and body), every beacon, and
// every widget render (the `graphrec:render` event: which widget, state, list, items, recommendation_id).
// A page of the shop without the tracker (/blank) reads it back at the end. Beside it, Chromium's own
// record of every request to the API (`network`: what went on the wire, the If-None-Match of a
// revalidation included, and the answer's status and Cache-Control), whatever the page's scripts did.
//
// Writes DIR/visit.json and DIR/*.png. Exits non-zero on any step that fails.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    shop: { type: "string" },
    api: { type: "string" },
    secret: { type: "string" },
    product: { type: "string" },
    out: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
for (const name of ["shop", "api", "secret", "product", "out"]) {
  if (!args[name]) {
    console.error("usage: node widgets.mjs --shop URL --api URL --secret KEY --product ITEM --out DIR");
    process.exit(2);
  }
}
const SHOP = args.shop.replace(/\/+$/, "");
const API = args.api.replace(/\/+$/, "");
const PRODUCT = args.product;
mkdirSync(args.out, { recursive: true });

const started = Date.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg, extra) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}${extra ? ` ${JSON.stringify(extra)}` : ""}`);

// ---- in every page, before its scripts --------------------------------------------------------------

function recorder(api) {
  const KEY = "e2e.record";
  const put = (entry) => {
    try {
      const all = JSON.parse(localStorage.getItem(KEY) || "[]");
      all.push(Object.assign(entry, { at: Date.now(), page: location.pathname }));
      localStorage.setItem(KEY, JSON.stringify(all));
    } catch {
      /* nothing to record into */
    }
  };
  let seq = 0;
  let lifecycle = null;
  window.addEventListener("pagehide", () => (lifecycle = "pagehide"), { capture: true });
  const nav = navigator;
  if (nav.sendBeacon) {
    const beacon = nav.sendBeacon.bind(nav);
    nav.sendBeacon = (url, data) => {
      const ok = beacon(url, data);
      put({ via: "beacon", n: ++seq, url: String(url), body: typeof data === "string" ? data : null, ok, during: lifecycle });
      return ok;
    };
  }
  const original = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(api)) return original(input, init);
    const method = ((init && init.method) || "GET").toUpperCase();
    const n = ++seq;
    put({ via: "fetch", n, method, url, body: init && typeof init.body === "string" ? init.body : null });
    try {
      const res = await original(input, init);
      let body = null;
      try {
        body = await res.clone().json();
      } catch {
        /* not JSON */
      }
      put({ via: "response", n, method, url, status: res.status, body: method === "GET" ? null : body });
      return res;
    } catch (e) {
      put({ via: "response", n, method, url, status: 0, error: String(e) });
      throw e;
    }
  };
  document.addEventListener("graphrec:render", (ev) => {
    const el = ev.target;
    const d = ev.detail;
    const cards = [...el.querySelectorAll("[data-list] > [data-item-id]")];
    put({
      via: "render", widget: el.id, tag: el.tagName.toLowerCase(), state: d.state, list: d.list, recommendation_id: d.recommendationId,
      items: d.items.map((it) => it.item_id), error: d.error ? String(d.error.message || d.error) : null,
      links: cards.map((c) => { const a = c.querySelector("a"); return a ? a.href : null; }),
      images: cards.map((c) => { const i = c.querySelector("img"); return i ? i.src : null; }),
    });
  }, { capture: true });
}

// ---- helpers --------------------------------------------------------------------------------------------

const ready = (page) => page.waitForFunction(() => document.documentElement.dataset.ready === "1", null, { timeout: 20000 });
const record = (page) => page.evaluate(() => JSON.parse(localStorage.getItem("e2e.record") || "[]"));
const stored = (page) => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("graphrec.")).concat(document.cookie.includes("graphrec_aid") ? ["cookie graphrec_aid"] : []));
const now = (page) => page.evaluate(() => Date.now());

/** The cards of the personal row with the fraction of each inside the viewport and the row's scroller
 * (what the tracker's IntersectionObserver sees), and the list's recommendation_id. */
const personalRow = (page) => page.evaluate(() => {
  const el = document.getElementById("recs");
  const row = document.getElementById("recs-row");
  const clip = row.getBoundingClientRect();
  const visible = (c) => {
    const r = c.getBoundingClientRect();
    const w = Math.min(r.right, innerWidth, clip.right) - Math.max(r.left, 0, clip.left);
    const h = Math.min(r.bottom, innerHeight, clip.bottom) - Math.max(r.top, 0, clip.top);
    return r.width && r.height ? Math.round((Math.max(0, w) * Math.max(0, h) * 1000) / (r.width * r.height)) / 1000 : 0;
  };
  return {
    list: el.rendered && el.rendered.list,
    recommendation_id: row.getAttribute("data-recommendation-id"),
    items: [...row.querySelectorAll(":scope > [data-item-id]")].map((c) => ({ item_id: c.getAttribute("data-item-id"), category: c.getAttribute("data-category"), visible: visible(c) })),
  };
});

/** Moves the mouse a little (the tracker's clock runs only while there is input) for `ms`. */
async function dwell(page, ms) {
  const end = Date.now() + ms;
  let x = 300;
  while (Date.now() < end) {
    x = x === 300 ? 340 : 300;
    await page.mouse.move(x, 200, { steps: 2 });
    await sleep(Math.min(400, Math.max(0, end - Date.now())));
  }
}

/** The shop's back office (the test harness, with the secret key): an API call from node, not the page. */
async function admin(method, path, body) {
  const res = await fetch(API + path, {
    method, headers: { "X-API-Key": args.secret, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function openProduct(page, id) {
  await page.goto(`${SHOP}/product/${encodeURIComponent(id)}`);
  await ready(page);
}

// ---- the steps ------------------------------------------------------------------------------------------

/** A new visitor: home and one product before answering the banner. */
async function arrive(page, visit) {
  await page.goto(`${SHOP}/`);
  await ready(page);
  visit.consent_visible = await page.locator("#consent").isVisible();
  await page.screenshot({ path: join(args.out, "before.png") });
  await page.mouse.wheel(0, 600);
  await dwell(page, 1200);
  const first = page.locator("#trending [data-list] > [data-item-id] a").first();
  await first.click();
  await page.waitForURL(/\/product\//);
  await ready(page);
  await dwell(page, 2500);
  await page.goto(`${SHOP}/`);
  await ready(page);
  visit.before_consent = { record: await record(page), stored: await stored(page), consent_visible: await page.locator("#consent").isVisible() };
}

const recsShown = (page) => page.evaluate(() => {
  const r = document.getElementById("recs").rendered;
  return { list: r && r.list, state: r && r.state, recommendation_id: r && r.recommendationId, items: r ? r.items.map((it) => it.item_id) : [] };
});

/** Analytics only: tracked, but the personal row stays the generic list (on this page and the next ones). */
async function acceptAnalytics(page, visit) {
  visit.consent_at = await now(page);
  await page.locator("#analytics-only").click();
  await page.evaluate(() => graphrec.widgets.settled()); // the row re-rendered for the new answer
  const here = await recsShown(page);
  await openProduct(page, PRODUCT);
  await dwell(page, 2000);
  await page.goto(`${SHOP}/`);
  await ready(page);
  await page.locator("#recs-row").scrollIntoViewIfNeeded();
  await dwell(page, 2000); // the generic row in view: no list of the visitor's, so no impression either
  visit.analytics_only = {
    at_consent: here, after_reload: await recsShown(page),
    purposes: await page.evaluate(() => graphrec.tracker.purposes),
    anonymous_id: await page.evaluate(() => graphrec.tracker.anonymousId || null),
    personalise_visible: await page.locator("#personalise").isVisible(),
  };
  await page.evaluate(() => window.scrollTo(0, 0));
}

/** Personalisation turned on: the personal row reloads as the visitor's list. */
async function personalise(page, visit) {
  visit.personalised_at = await now(page);
  await page.locator("#personalise").click();
  await page.waitForFunction(() => document.getElementById("recs").rendered?.list === "recommendations", null, { timeout: 20000 });
  visit.row_at_consent = await personalRow(page);
  visit.personalise_hidden_after = await page.locator("#personalise").isHidden();
}

/** The product, into the cart, then two of its similar items. */
async function browse(page, visit) {
  visit.viewed = [];
  let id = PRODUCT;
  for (let i = 0; i < 3 && id; i++) {
    await openProduct(page, id);
    visit.viewed.push(id);
    await dwell(page, 2000);
    await page.mouse.wheel(0, 300);
    await dwell(page, 1500);
    if (i === 0) {
      await page.locator("#add").click();
      await dwell(page, 1200);
    }
    id = await page.evaluate((seen) => {
      const cards = [...document.querySelectorAll("#similar [data-list] > [data-item-id]")];
      const c = cards.find((x) => !seen.includes(x.getAttribute("data-item-id")));
      return c ? c.getAttribute("data-item-id") : null;
    }, visit.viewed);
  }
  visit.anonymous_id = await page.evaluate(() => localStorage.getItem("graphrec.anonymous_id"));
}

/** The back office marks the top item of each list the visitor is about to see unavailable. */
async function hide(page, visit) {
  const q = "k=8";
  const lists = {
    recommendations: await admin("GET", `/v1/anonymous/${encodeURIComponent(visit.anonymous_id)}/recommendations?${q}`),
    trending: await admin("GET", `/v1/items/popular?k=6`),
    similar: await admin("GET", `/v1/items/${encodeURIComponent(PRODUCT)}/similar?k=6`),
    "bought-together": await admin("GET", `/v1/items/${encodeURIComponent(PRODUCT)}/bought-together?k=6`),
  };
  visit.lists_before_hiding = Object.fromEntries(Object.entries(lists).map(([name, body]) => [name, body.data.map((d) => d.item_id)]));
  const hidden = [...new Set(Object.values(visit.lists_before_hiding).map((ids) => ids[0]).filter(Boolean))];
  for (const id of hidden) {
    const it = await admin("GET", `/v1/items/${encodeURIComponent(id)}`);
    const { title, categories, url, image_url, price, currency, attributes } = it;
    await admin("PUT", `/v1/items/${encodeURIComponent(id)}`, { title, categories, url, image_url, price, currency, attributes, available: false });
  }
  visit.hidden = hidden;
  visit.hidden_at = Date.now();
}

/** The first product again: its similar and bought-together lists held items made unavailable. */
async function revisit(page, visit) {
  await openProduct(page, PRODUCT);
  await dwell(page, 1200);
  visit.revisited = PRODUCT;
}

/** Home in a narrow window: the personal row below the fold for a while, then in view. */
async function home(page, visit) {
  await page.setViewportSize({ width: 700, height: 900 });
  await page.goto(`${SHOP}/`);
  await ready(page);
  await page.waitForFunction(() => document.getElementById("recs").rendered?.list === "recommendations", null, { timeout: 20000 });
  visit.row_below = await personalRow(page);
  visit.below_from = await now(page);
  await dwell(page, 2500); // out of view: no card is seen
  visit.below_until = await now(page);
  await page.locator("#recs-row").scrollIntoViewIfNeeded();
  await dwell(page, 2500); // in view for more than a second: the cards at least half visible are seen
  visit.row_seen = await personalRow(page); // where each card was meanwhile (nothing moved)
  await page.screenshot({ path: join(args.out, "row.png") });
}

/** A click on the first card of the row in full view: its product page. */
async function clickCard(page, visit) {
  const card = visit.row_seen.items.find((c) => c.visible >= 0.9);
  if (!card) throw new Error("no card of the personal row in full view");
  visit.clicked = { item_id: card.item_id, recommendation_id: visit.row_seen.recommendation_id };
  await page.locator(`#recs-row > [data-item-id="${card.item_id.replace(/"/g, '\\"')}"] a`).click();
  await page.waitForURL(/\/product\//);
  await ready(page);
  await dwell(page, 1500);
}

/** Saves the clicked product to the wishlist (a custom event), then buys three of it. */
async function purchase(page, visit) {
  await page.locator("#wish").click();
  visit.wished = { item_id: visit.clicked.item_id, at: await now(page) };
  await page.locator("#add").click();
  await dwell(page, 800);
  await page.locator("#qty").fill("3");
  await page.locator("#buy").click();
  await page.locator("#bought").waitFor({ state: "visible", timeout: 5000 });
  visit.purchased = await page.evaluate((item_id) => {
    const p = document.querySelector("[data-page-section=product]").dataset;
    return { item_id, price: Number(p.price), currency: p.currency, quantity: 3, order_id: document.getElementById("bought").dataset.orderId };
  }, visit.clicked.item_id);
  await dwell(page, 2500); // the purchase leaves in the tracker's next batch
  await page.screenshot({ path: join(args.out, "product.png") });
}

/** Closes the page (pagehide: the tracker hands what is queued to sendBeacon), then reads the record. */
async function close(page, visit, context) {
  visit.closed_at = Date.now();
  await page.close({ runBeforeUnload: true });
  await sleep(1500);
  const reader = await context.newPage();
  await reader.goto(`${SHOP}/blank`);
  visit.record = await record(reader);
  visit.queue_after_close = await reader.evaluate(() => JSON.parse(localStorage.getItem("graphrec.queue") || "{\"q\":[]}").q);
  await reader.close();
}

const STEPS = [arrive, acceptAnalytics, personalise, browse, hide, revisit, home, clickCard, purchase, close];

// ---- the run --------------------------------------------------------------------------------------------

const network = [];
const heard = []; // the request headers of each response, read asynchronously
const visit = { shop: SHOP, api: API, product: PRODUCT, steps: [], console: [], page_errors: [], network };
const browser = await chromium.launch({
  executablePath: args.chromium,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    `--host-resolver-rules=MAP ${new URL(SHOP).hostname} 127.0.0.1`],
});
try {
  visit.browser = browser.version();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB", timezoneId: "UTC" });
  await context.addInitScript(recorder, API);
  // Chromium's own record of the requests to the API (the wire, not the page's fetch)
  const sent = new Map();
  context.on("request", (req) => {
    if (!req.url().startsWith(API)) return;
    const entry = { at: Date.now(), method: req.method(), url: req.url() };
    sent.set(req, entry);
    network.push(entry);
  });
  context.on("response", (res) => {
    const entry = sent.get(res.request());
    if (!entry) return;
    entry.status = res.status();
    entry.cache_control = res.headers()["cache-control"] || null;
    entry.etag = res.headers().etag || null; // equal to if_none_match: the server answered 304, the copy was reused
    heard.push(res.request().allHeaders().then((h) => void (entry.if_none_match = h["if-none-match"] || null), () => undefined));
  });
  context.on("requestfailed", (req) => {
    const entry = sent.get(req);
    if (entry) entry.failed = (req.failure() || {}).errorText || "failed";
  });
  const page = await context.newPage();
  page.on("console", (m) => (m.type() === "error" || m.type() === "warning" ? visit.console.push(`${m.type()}: ${m.text()}`) : undefined));
  page.on("pageerror", (e) => visit.page_errors.push(String(e)));
  for (const step of STEPS) {
    await step(page, visit, context);
    visit.steps.push({ name: step.name, at: Date.now() });
    log(step.name);
  }
} catch (e) {
  visit.error = String(e && e.stack ? e.stack : e);
  console.error(visit.error);
  process.exitCode = 1;
} finally {
  await Promise.race([Promise.all(heard), sleep(5000)]); // a header never heard of stays unset
  visit.elapsed_s = (Date.now() - started) / 1000;
  writeFileSync(join(args.out, "visit.json"), JSON.stringify(visit, null, 2));
  await browser.close();
}
