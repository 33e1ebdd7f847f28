// A scripted visit of the demo storefront in Debian's headless Chromium, driven by playwright-core
// (which never downloads a browser). tests/web/test_storefront.py starts the API, runs this script
// and checks what it writes against the graph store.
//
//   node storefront.mjs --base http://127.0.0.1:PORT --category Drama --out DIR [--chromium /usr/bin/chromium]
//
// The visit: a new visitor opens the shop, looks around BEFORE answering the consent banner (nothing
// may be sent or stored), accepts, opens one category, views, dwells on and scrolls several of its
// products, puts two in the cart, goes home in a narrower window (the "Recommended for you" row
// refreshes and stays in view for a while, some of its cards clipped by the row's horizontal scroller:
// the tracker reports impressions of the cards at least half visible for a second, and only those),
// opens one more product, adds it to the cart and closes the page at once: that last event can only
// leave in the tracker's pagehide beacon. Every request the page makes to another host is refused and recorded.
// An init script records every POST body the page hands to fetch and navigator.sendBeacon (in
// localStorage, which outlives the page); a second page of the same origin (one without the
// tracker, so it cannot flush a queue the beacon left behind) reads it back. Then /docs is opened
// with every other host blocked, to show Swagger UI renders from the package's own files.
//
// Writes DIR/visit.json and DIR/*.png. Exits non-zero on any step that fails.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    base: { type: "string" },
    category: { type: "string" },
    out: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    products: { type: "string", default: "4" },
  },
});
if (!args.base || !args.category || !args.out) {
  console.error("usage: node storefront.mjs --base URL --category NAME --out DIR");
  process.exit(2);
}
const BASE = args.base.replace(/\/+$/, "");
const ORIGIN = new URL(BASE).origin;
const CATEGORY = args.category;
const PRODUCTS = Number(args.products);
mkdirSync(args.out, { recursive: true });

const started = Date.now();
const steps = [];
const step = (name, extra = {}) => {
  steps.push({ name, at: Date.now(), ...extra });
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${name}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs in every page before its scripts: record POSTs (fetch and sendBeacon) in localStorage, and
// shorten the tracker's dwell heartbeats (the storefront reads window.graphrecStorefront) so a short
// visit still has several periods.
function recorder() {
  const KEY = "e2e.sent";
  const log = (entry) => {
    try {
      const all = JSON.parse(localStorage.getItem(KEY) || "[]");
      all.push(entry);
      localStorage.setItem(KEY, JSON.stringify(all));
    } catch {
      /* a page without storage records nothing */
    }
  };
  let seq = 0;
  // Which page-lifecycle event is being dispatched when a beacon is made. These listeners are the
  // first of their phase (the init script runs before the page's scripts), so they run before the
  // tracker's; nothing resets the mark, so it names the latest such event.
  let lifecycle = null;
  window.addEventListener("pagehide", () => (lifecycle = "pagehide"), { capture: true });
  document.addEventListener("visibilitychange", () => (lifecycle = `visibilitychange:${document.visibilityState}`), { capture: true });
  const nav = navigator;
  if (nav.sendBeacon) {
    const beacon = nav.sendBeacon.bind(nav);
    nav.sendBeacon = (url, data) => {
      const ok = beacon(url, data);
      log({ via: "beacon", n: ++seq, url: String(url), body: typeof data === "string" ? data : null, ok, at: Date.now(), page: location.pathname, during: lifecycle });
      return ok;
    };
  }
  const original = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const method = ((init && init.method) || (input instanceof Request ? input.method : "GET")).toUpperCase();
    if (method !== "POST") return original(input, init);
    const n = ++seq;
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    log({ via: "fetch", n, url, body: init && typeof init.body === "string" ? init.body : null, keepalive: !!(init && init.keepalive), at: Date.now(), page: location.pathname });
    try {
      const res = await original(input, init);
      let body = null;
      try {
        body = await res.clone().json();
      } catch {
        /* not JSON */
      }
      log({ via: "response", n, url, status: res.status, body, at: Date.now() });
      return res;
    } catch (e) {
      log({ via: "response", n, url, status: 0, error: String(e), at: Date.now() });
      throw e;
    }
  };
  window.graphrecStorefront = { tracker: { activity: { minimumVisitLength: 1, heartbeatDelay: 2, idleTimeout: 30, elements: false } } };
}

/** Refuses (and records) every request to another origin: the pages must work offline. */
async function offline(context, blocked) {
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(`${ORIGIN}/`) || url.startsWith("data:") || url.startsWith("blob:")) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });
}

const ready = (page, path) => page.waitForFunction((p) => document.getElementById("main")?.dataset.ready === p, path, { timeout: 15000 });
const trackerKeys = (page) => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("graphrec.")).concat(document.cookie.includes("graphrec_aid") ? ["cookie graphrec_aid"] : []));
const sent = (page) => page.evaluate(() => JSON.parse(localStorage.getItem("e2e.sent") || "[]"));

/** The cards of the "Recommended for you" row, in order, with the fraction of each inside both the
 * viewport and the row's scroller (what the tracker's IntersectionObserver sees); the row's state and
 * the recommendation_id of its list. */
const row = (page) => page.evaluate(() => {
  const section = document.getElementById("recommended");
  const scroller = document.getElementById("recommended-cards");
  const cards = [...document.querySelectorAll("#recommended-cards [data-item-id]")];
  const clip = scroller ? scroller.getBoundingClientRect() : null;
  const visible = (c) => {
    const r = c.getBoundingClientRect();
    const w = Math.min(r.right, innerWidth, clip.right) - Math.max(r.left, 0, clip.left);
    const h = Math.min(r.bottom, innerHeight, clip.bottom) - Math.max(r.top, 0, clip.top);
    return r.width && r.height ? Math.round((Math.max(0, w) * Math.max(0, h) * 1000) / (r.width * r.height)) / 1000 : 0;
  };
  return {
    state: section && section.dataset.state,
    refreshes: Number((section && section.dataset.refreshes) || 0),
    recommendation_id: (scroller && scroller.dataset.recommendationId) || null, // the widget's list, on its cards' container
    items: cards.map((c) => ({ item_id: c.getAttribute("data-item-id"), category: c.getAttribute("data-category"), fresh: c.classList.contains("fresh"), visible: visible(c) })),
  };
});

async function refreshedRow(page, after) {
  await page.waitForFunction((n) => Number(document.getElementById("recommended")?.dataset.refreshes || 0) > n && !["loading"].includes(document.getElementById("recommended").dataset.state), after, { timeout: 15000 });
  return row(page);
}

/** Moves the mouse a little (the tracker's clock runs only while there is input) for `ms`. */
async function dwell(page, ms) {
  const end = Date.now() + ms;
  let x = 300;
  while (Date.now() < end) {
    x = x === 300 ? 340 : 300;
    await page.mouse.move(x, 420, { steps: 2 });
    await sleep(Math.min(400, Math.max(0, end - Date.now())));
  }
}

async function openProduct(page, index) {
  const card = page.locator("#grid [data-item-id]").nth(index);
  const id = await card.getAttribute("data-item-id");
  const category = await card.getAttribute("data-category");
  await card.locator("a.card-link").click();
  await ready(page, `/demo/item/${encodeURIComponent(id)}`);
  return { item_id: id, category };
}

async function openCategory(page) {
  await page.locator(`#categories a[data-category-link="${CATEGORY.replace(/"/g, '\\"')}"]`).click();
  await ready(page, `/demo/category/${encodeURIComponent(CATEGORY)}`);
}

const result = { base: BASE, category: CATEGORY, steps, blocked: [], console: [], page_errors: [] };
const browser = await chromium.launch({
  executablePath: args.chromium,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  result.browser = browser.version();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-GB", timezoneId: "UTC" });
  await offline(context, result.blocked);
  await context.addInitScript(recorder);
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" || m.type() === "warning" ? result.console.push(`${m.type()}: ${m.text()}`) : undefined);
  page.on("pageerror", (e) => result.page_errors.push(String(e)));

  // ---- a new visitor, before answering the banner --------------------------------------------------
  await page.goto(`${BASE}/demo`);
  await ready(page, "/demo");
  result.row_before = await refreshedRow(page, 0);
  await page.locator("#consent").waitFor({ state: "visible", timeout: 5000 }).catch(() => undefined); // checked below
  await page.screenshot({ path: join(args.out, "before.png") });
  step("home before consent", { row: result.row_before.state });
  await page.mouse.wheel(0, 700);
  await dwell(page, 1200);
  const peek = page.locator("#grid [data-item-id] a.card-link").first();
  await peek.click();
  await page.waitForFunction(() => document.getElementById("main")?.dataset.view === "item" && document.getElementById("main").dataset.ready);
  await dwell(page, 2600); // past the first heartbeat: a tracker that ignored consent would report dwell
  await page.mouse.wheel(0, 500);
  await dwell(page, 600);
  await page.locator("a.brand").click();
  await ready(page, "/demo");
  result.before_consent = { sent: await sent(page), stored: await trackerKeys(page), consent_visible: await page.locator("#consent").isVisible() };
  step("looked around without consent", { sent: result.before_consent.sent.length, stored: result.before_consent.stored.length });

  // ---- consent, then one category ---------------------------------------------------------------------
  result.consent_at = await page.evaluate(() => Date.now());
  if (await page.locator("#consent-accept").isVisible()) await page.locator("#consent-accept").click();
  step("accepted");
  const afterConsent = await refreshedRow(page, result.row_before.refreshes);
  result.row_at_consent = afterConsent;

  result.viewed = [];
  result.carted = [];
  await openCategory(page);
  await page.mouse.wheel(0, 450); // the grid scrolled: its cards are no interactions (a page about no item)
  await dwell(page, 2200);
  await page.mouse.wheel(0, -450);
  let next = 0;
  for (let i = 0; i < PRODUCTS; i++) {
    // Like a shopper: the category's first product, then one of the same category among the
    // "Similar items" of the product before (the next one of the category's grid when none is).
    const seen = result.viewed.map((p) => p.item_id);
    const similar = i === 0 ? null : await page.evaluate(([cat, seen]) => {
      const card = [...document.querySelectorAll("#similar-cards [data-item-id]")].find((c) => c.getAttribute("data-category") === cat && !seen.includes(c.getAttribute("data-item-id")));
      return card ? card.getAttribute("data-item-id") : null;
    }, [CATEGORY, seen]);
    let product;
    if (similar) {
      const card = page.locator(`#similar-cards [data-item-id="${similar}"]`);
      await card.scrollIntoViewIfNeeded();
      await card.locator("a.card-link").click();
      await ready(page, `/demo/item/${encodeURIComponent(similar)}`);
      product = { item_id: similar, category: CATEGORY, from: "similar" };
    } else {
      if (i > 0) await openCategory(page);
      while (seen.includes(await page.locator("#grid [data-item-id]").nth(next).getAttribute("data-item-id"))) next += 1;
      product = { ...(await openProduct(page, next)), from: "category" };
      next += 1;
    }
    result.viewed.push(product);
    await dwell(page, 2300);
    await page.mouse.wheel(0, 350);
    await dwell(page, 2300);
    if (i % 2 === 0) {
      await page.locator("#item-add").click();
      result.carted.push(product.item_id);
      await dwell(page, 1800); // the add_to_cart event leaves in the tracker's next batch
    }
    step(`product ${i + 1}`, product);
  }

  // ---- home: the row has learned; some of its cards are seen, the rest stay clipped ---------------------
  const before = (await row(page)).refreshes;
  await page.setViewportSize({ width: 700, height: 900 }); // the row's scroller clips its last cards from here on
  await page.locator("a.brand").click();
  await ready(page, "/demo");
  result.row_after = await refreshedRow(page, before);
  await page.locator("#recommended").scrollIntoViewIfNeeded();
  await dwell(page, 2500); // the row in view for more than a second: impressions of the cards in view
  result.row_seen = await row(page); // where each card was meanwhile (nothing moves: no scrolling)
  await page.screenshot({ path: join(args.out, "after.png") });
  step("home after browsing", { row: result.row_after.state, seen: result.row_seen.items.filter((c) => c.visible >= 0.5).length });

  // ---- one more product, into the cart, and the page closes at once -----------------------------------
  await openCategory(page);
  const seen = result.viewed.map((p) => p.item_id);
  while (seen.includes(await page.locator("#grid [data-item-id]").nth(next).getAttribute("data-item-id"))) next += 1;
  const last = { ...(await openProduct(page, next)), from: "category" };
  await dwell(page, 2300);
  await page.screenshot({ path: join(args.out, "product.png") });
  result.viewed.push(last);
  result.queue_before_close = await page.evaluate(() => JSON.parse(localStorage.getItem("graphrec.queue") || "{\"q\":[]}").q.length);
  await page.locator("#item-add").click();
  result.carted.push(last.item_id);
  result.closed_at = Date.now();
  await page.close({ runBeforeUnload: true }); // pagehide: the tracker hands its queue to sendBeacon
  step("closed the page right after adding to cart", last);
  await sleep(1500); // the browser delivers the beacon after the page is gone

  // ---- what the page handed over, read from a page without the tracker --------------------------------
  const reader = await context.newPage();
  await reader.goto(`${BASE}/healthz`);
  result.sent = await sent(reader);
  result.queue_after_close = await reader.evaluate(() => JSON.parse(localStorage.getItem("graphrec.queue") || "{\"q\":[]}").q);
  result.cart = await reader.evaluate(() => JSON.parse(localStorage.getItem("graphrec-demo.cart") || "[]").map((x) => x.item_id));
  result.anonymous_id = await reader.evaluate(() => localStorage.getItem("graphrec.anonymous_id"));
  await reader.close();
  step("read the record", { sent: result.sent.length, queued: result.queue_after_close.length });

  // ---- a returning visit: the row after everything arrived --------------------------------------------
  const again = await context.newPage();
  again.on("pageerror", (e) => result.page_errors.push(String(e)));
  await again.goto(`${BASE}/demo`);
  await ready(again, "/demo");
  result.row_final = await refreshedRow(again, 0);
  await again.locator("#recommended").scrollIntoViewIfNeeded();
  await again.screenshot({ path: join(args.out, "after-return.png") });
  await again.close();
  step("returned", { row: result.row_final.state });
  result.visit_s = (result.closed_at - steps[0].at) / 1000;
  await context.close();

  // ---- /docs offline ----------------------------------------------------------------------------------
  const docsContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  result.docs_blocked = [];
  await offline(docsContext, result.docs_blocked);
  const docs = await docsContext.newPage();
  await docs.goto(`${BASE}/docs`);
  await docs.locator(".swagger-ui .opblock").first().waitFor({ timeout: 20000 });
  result.docs = {
    title: await docs.locator(".swagger-ui .info .title").first().innerText(),
    operations: await docs.locator(".swagger-ui .opblock").count(),
  };
  await docs.screenshot({ path: join(args.out, "docs.png") });
  await docsContext.close();
  step("docs", result.docs);
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
  console.error(result.error);
  process.exitCode = 1;
} finally {
  result.elapsed_s = (Date.now() - started) / 1000;
  writeFileSync(join(args.out, "visit.json"), JSON.stringify(result, null, 2));
  await browser.close();
}
