import assert from "node:assert/strict";
import { test } from "node:test";
import { defineWidgets } from "../src/widgets/index";
import type { RenderDetail, WidgetElement, Widgets } from "../src/widgets/index";
import type { Tracker, TrackerOptions } from "../src/index";
import { FakeIO, MemoryStorage, rig, settle } from "./helpers";
import type { Rig } from "./helpers";

// ---- a fake API that answers by path, records every request, and can hold answers back ----------------

interface Req {
  method: string;
  path: string;
  search: string;
  query: URLSearchParams;
  body: any;
  headers: Record<string, string>;
}
type Handler = (req: Req) => { status: number; body?: unknown } | Promise<{ status: number; body?: unknown }>;

class Api {
  requests: Req[] = [];
  routes: [RegExp, Handler][] = [];
  on(method: string, path: RegExp, h: Handler): this {
    this.routes.unshift([new RegExp(`^${method} ${path.source}`), h]); // the latest route wins
    return this;
  }
  fetch = async (url: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const u = new URL(String(url));
    const raw = typeof init.body === "string" ? init.body : "";
    const req: Req = { method: init.method || "GET", path: u.pathname, search: u.search, query: u.searchParams, body: raw ? JSON.parse(raw) : null, headers: { ...(init.headers as Record<string, string>) } };
    this.requests.push(req);
    const route = this.routes.find(([re]) => re.test(`${req.method} ${req.path}`));
    const r = route ? await route[1](req) : { status: 202, body: { received: 1, recorded: 1 } };
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), { status: r.status });
  };
  gets(): string[] {
    return this.requests.filter((r) => r.method === "GET").map((r) => r.path + r.search);
  }
  posts(path: string): Req[] {
    return this.requests.filter((r) => r.method === "POST" && r.path === path);
  }
}

const item = (id: string, extra: Record<string, unknown> = {}) => ({
  item_id: id, title: `Title ${id}`, score: 1, source: "popular", available: true, categories: ["Books", "Gifts"],
  url: `/p/${id}`, image_url: `/img/${id}.png`, price: 12.5, currency: "EUR", ...extra,
});
const list = (ids: string[], extra: Record<string, unknown> = {}) => ({ data: ids.map((i) => item(i)), count: ids.length, next_cursor: null, ...extra });
const personal = (ids: string[], rec = "rec_1") => list(ids, { user_id: "x", model_version: "v1", degraded: false, cold_start: false, personalised_from: "model", recommendation_id: rec });

const QUIET: Partial<TrackerOptions> = { pageViews: false, activity: false, scroll: false };

interface Page {
  r: Rig;
  api: Api;
  tracker: Tracker;
  widgets: Widgets;
  renders: RenderDetail[];
  warnings: string[];
  storage: MemoryStorage;
  /** Puts `html` in the body and waits for every widget in it to render. */
  put(html: string): Promise<void>;
  $(sel: string): Element;
  $$(sel: string): Element[];
}

/** A page with a tracker (fake clock, IntersectionObserver; the real MutationObserver of happy-dom, so
 * that cards rendered later are found) and the widgets bound to it. */
function page(opts: Partial<TrackerOptions> = {}, url = "https://shop.example/home"): Page {
  const r = rig(QUIET, { url });
  r.tracker.destroy(); // the rig's own tracker; ours needs the page's MutationObserver and its own storage
  const api = new Api();
  api.on("GET", /\/v1\/items\/popular/, () => ({ status: 200, body: list(["t1", "t2", "t3"], { category: null, built_ms: 1 }) }));
  const storage = new MemoryStorage();
  const tracker = r.make({ ...QUIET, ...opts, env: { fetch: api.fetch as typeof fetch, MutationObserver: r.window.MutationObserver, storage } });
  const warnings: string[] = [];
  const widgets = defineWidgets({ tracker, window: r.window, onError: (m) => void warnings.push(m) });
  const renders: RenderDetail[] = [];
  r.document.addEventListener("graphrec:render", (e) => void renders.push((e as CustomEvent<RenderDetail>).detail));
  return {
    r, api, tracker, widgets, renders, warnings, storage,
    async put(html: string) {
      r.document.body.innerHTML = html;
      await settle();
      await widgets.settled();
      await settle();
    },
    $: (sel) => r.document.querySelector(sel)!,
    $$: (sel) => Array.from(r.document.querySelectorAll(sel)),
  };
}

const CARD = `<template>
  <article class="card" data-attr="data-category:category title:title">
    <a class="link" data-href="/shop/item/{item_id}"><img data-src="image_url" alt=""><span class="t" data-field="title"></span></a>
    <span class="price" data-field="price"></span><span class="cats" data-field="categories"></span>
    <button data-track="add_to_cart">Add</button>
  </article>
</template>`;

// ---- rendering ----------------------------------------------------------------------------------------

test("widgets: trending renders the page's template once per item, with text, links and attributes bound", async () => {
  const p = page();
  await p.put(`<graphrec-trending k="3" category="Books" price-min="5" price-max="20" attributes="brand:acme &amp; co; size:m" exclude="x1, x2" base-url="https://cdn.example/">${CARD}</graphrec-trending>`);
  assert.deepEqual(p.api.gets(), ["/v1/items/popular?k=3&exclude=x1%2Cx2&price_min=5&price_max=20&attr=brand%3Aacme%20%26%20co&attr=size%3Am&category=Books"]);
  const cards = p.$$("graphrec-trending [data-list] > article");
  assert.deepEqual(cards.map((c) => c.getAttribute("data-item-id")), ["t1", "t2", "t3"]);
  const c = cards[0]!;
  assert.equal(c.getAttribute("data-position"), "1");
  assert.equal(c.getAttribute("data-category"), "Books");
  assert.equal(c.getAttribute("title"), "Title t1");
  assert.equal(c.querySelector(".t")!.textContent, "Title t1");
  assert.equal(c.querySelector(".cats")!.textContent, "Books, Gifts");
  assert.match(c.querySelector(".price")!.textContent!, /12[.,]50/);
  // a pattern resolves against the page, a catalogue field against base-url
  assert.equal(c.querySelector("a")!.getAttribute("href"), "https://shop.example/shop/item/t1");
  assert.equal(c.querySelector("img")!.getAttribute("src"), "https://cdn.example/img/t1.png");
  // clicks: the link gets data-track="click"; the template's own data-track stays
  assert.equal(c.querySelector("a")!.getAttribute("data-track"), "click");
  assert.equal(c.querySelector("button")!.getAttribute("data-track"), "add_to_cart");
  const el = p.$("graphrec-trending") as WidgetElement;
  assert.equal(el.getAttribute("data-state"), "list");
  assert.equal(el.getAttribute("data-shows"), "trending");
  assert.equal(el.rendered!.items.length, 3);
  assert.ok(!p.$("[data-list]").hasAttribute("data-recommendation-id"), "a shared list has no recommendation_id");
  assert.deepEqual(p.renders.map((d) => [d.state, d.list]), [["list", "trending"]]);
  await p.r.close();
});

test("widgets: without a template, a default card (link, picture, title, price); a [data-list] of the page holds the cards", async () => {
  const p = page();
  await p.put(`<graphrec-trending k="2"><h2>Trending</h2><p data-fallback>Loading…</p><div class="row" id="row" data-list></div></graphrec-trending>`);
  const row = p.$("#row");
  assert.equal(row.children.length, 2, "only the items the widget asked for (k)");
  const c = row.children[0]!;
  assert.equal(c.className, "graphrec-card");
  assert.equal(c.querySelector("a")!.getAttribute("href"), "https://shop.example/p/t1");
  assert.equal(c.querySelector("img")!.getAttribute("src"), "https://shop.example/img/t1.png");
  assert.equal(c.querySelector(".graphrec-title")!.textContent, "Title t1");
  assert.ok(!p.$("h2").hasAttribute("hidden"), "with a child marked data-fallback, only that one is the fallback content");
  assert.ok(p.$("[data-fallback]").hasAttribute("hidden"));
  await p.r.close();
});

// ---- escaping -------------------------------------------------------------------------------------------

test("widgets: catalogue values are text, never markup; only http(s) links; no attribute that runs code", async () => {
  const p = page();
  const evil = "<img src=x onerror=alert(1)><script>alert(2)</script>";
  p.api.on("GET", /\/v1\/items\/popular/, () => ({ status: 200, body: {
    data: [
      item("e1", { title: evil, categories: ["<b>bold</b>"], url: "javascript:alert(3)", image_url: "data:image/svg+xml,<svg onload=alert(4)>", currency: "<i>" }),
      item("e 2&<x>", { url: "//evil.example/x", image_url: " JAVASCRIPT:alert(5)" }),
    ], count: 2, category: null, built_ms: 1,
  } }));
  const tpl = `<template><div class="c" data-attr="onclick:title style:title href:url data-item-id:title data-track:title aria-label:title">
    <a data-href="url"><span data-field="title"></span></a><a class="p" data-href="/p/{item_id}?t={title}"></a>
    <img data-src="image_url"><i data-field="categories"></i><b data-field="price"></b><u data-field="nonsense"></u></div></template>`;
  await p.put(`<graphrec-trending>${tpl}</graphrec-trending>`);
  const [a, b] = p.$$("graphrec-trending .c");
  assert.equal(a!.querySelector("span")!.textContent, evil, "the title shows as the characters it is");
  assert.equal(p.$$("graphrec-trending script").length, 0);
  assert.equal(p.$$("graphrec-trending img").length, 2, "only the template's own <img>s");
  assert.equal(a!.querySelector("i")!.textContent, "<b>bold</b>");
  assert.equal(p.$$("graphrec-trending b b").length, 0);
  assert.equal(a!.querySelector("u")!.textContent, "", "an unknown field is empty");
  // links: javascript: and data: URLs are dropped (and an <img> without a picture hidden)
  assert.equal(a!.querySelector("a")!.getAttribute("href"), null);
  assert.equal(a!.querySelector("img")!.getAttribute("src"), null);
  assert.ok(a!.querySelector("img")!.hasAttribute("hidden"));
  assert.equal(b!.querySelector("img")!.getAttribute("src"), null, "scheme-case and spaces do not smuggle javascript:");
  assert.equal(b!.querySelector("a")!.getAttribute("href"), "https://evil.example/x", "a protocol-relative catalogue URL is http(s)");
  // placeholders are URI-encoded: a value cannot leave its path segment or query value
  assert.equal(b!.querySelector("a.p")!.getAttribute("href"), "https://shop.example/p/e%202%26%3Cx%3E?t=Title%20e%202%26%3Cx%3E");
  // data-attr: only alt/title/lang/aria-*/data-* (not the tracker's own), never on*, style or href
  for (const name of ["onclick", "style", "href", "data-track"]) assert.equal(a!.getAttribute(name), null, name);
  assert.equal(a!.getAttribute("data-item-id"), "e1");
  assert.equal(a!.getAttribute("aria-label"), evil);
  // an unknown currency code does not break the card
  assert.match(a!.querySelector("b")!.textContent!, /12\.50/);
  await p.r.close();
});

// ---- fallback ----------------------------------------------------------------------------------------------

test("widgets: similar falls back to trending (without its item) when the call fails, then to the page's children", async () => {
  const p = page();
  p.api.on("GET", /\/v1\/items\/sku-9\/similar/, () => ({ status: 404, body: { detail: "unknown item 'sku-9'" } }));
  await p.put(`<graphrec-similar item="sku-9" k="2" category="Books">${CARD}<p id="none">Nothing similar yet</p></graphrec-similar>`);
  assert.deepEqual(p.api.gets(), ["/v1/items/sku-9/similar?k=2&category=Books", "/v1/items/popular?k=2&exclude=sku-9&category=Books"]);
  const el = p.$("graphrec-similar") as WidgetElement;
  assert.equal(el.getAttribute("data-state"), "fallback");
  assert.equal(el.getAttribute("data-shows"), "trending");
  assert.equal(el.rendered!.list, "trending");
  assert.match(String(el.rendered!.error), /404/);
  assert.deepEqual(p.$$("graphrec-similar [data-item-id]").map((c) => c.getAttribute("data-item-id")), ["t1", "t2"]);
  assert.ok(p.$("#none").hasAttribute("hidden"), "the page's fallback content is hidden while a list shows");

  // both fail: the page's own children come back, no cards
  p.api.on("GET", /\/v1\/items\/popular/, () => ({ status: 503, body: { detail: "down" } }));
  el.setAttribute("k", "3");
  await settle();
  await el.settled();
  assert.equal(el.getAttribute("data-state"), "children");
  assert.ok(!p.$("#none").hasAttribute("hidden"));
  assert.equal(p.$$("graphrec-similar [data-item-id]").length, 0);
  assert.ok((p.$("graphrec-similar [data-list]") as HTMLElement).hidden);
  await p.r.close();
});

test("widgets: bought-together with no co-purchases shows its fallback; fallback=\"none\" shows the page's children, or nothing", async () => {
  const p = page();
  p.api.on("GET", /\/v1\/items\/sku-9\/bought-together/, () => ({ status: 200, body: { item_ids: ["sku-9"], data: [], count: 0, built_ms: 1, reason: "no_co_purchases" } }));
  p.api.on("GET", /\/v1\/items\/bought-together/, (q) => ({ status: 200, body: { item_ids: q.query.get("items")!.split(","), data: [item("b1"), item("b2", { available: false })], count: 2, built_ms: 1 } }));
  await p.put(`<graphrec-bought-together id="one" item="sku-9" k="4" fallback="similar"></graphrec-bought-together>
    <graphrec-bought-together id="none" item="sku-9" fallback="none"><p id="kids">Nobody bought this with anything yet</p></graphrec-bought-together>
    <graphrec-bought-together id="empty" item="sku-9" fallback="none"></graphrec-bought-together>
    <graphrec-bought-together id="cart" items="c1,c 2, c1"></graphrec-bought-together>`);
  p.api.on("GET", /\/v1\/items\/sku-9\/similar/, () => ({ status: 200, body: list(["s1"], { item_id: "sku-9", model_version: "v1", degraded: false }) }));
  await (p.$("#one") as WidgetElement).refresh();
  assert.ok(p.api.gets().includes("/v1/items/sku-9/similar?k=4&exclude=sku-9"), p.api.gets().join("\n"));
  assert.equal(p.$("#one").getAttribute("data-shows"), "similar");
  assert.equal(p.$("#none").getAttribute("data-state"), "children");
  assert.ok(!p.$("#kids").hasAttribute("hidden"));
  assert.equal(p.$("#empty").getAttribute("data-state"), "empty", "nothing to show: the page may hide it with CSS");
  // a cart: one request for all its items; an item the shop does not sell is never shown
  assert.ok(p.api.gets().includes("/v1/items/bought-together?items=c1%2Cc%202&k=10"), p.api.gets().join("\n"));
  assert.deepEqual(p.$$("#cart [data-item-id]").map((c) => c.getAttribute("data-item-id")), ["b1"]);
  await p.r.close();
});

// ---- attribute changes ----------------------------------------------------------------------------------

test("widgets: attribute changes re-render, those of one task in one request; a slow older answer never overwrites a newer one", async () => {
  const p = page();
  await p.put(`<graphrec-trending k="2"></graphrec-trending>`);
  const el = p.$("graphrec-trending") as WidgetElement;
  assert.equal(p.api.requests.length, 1);
  el.setAttribute("k", "3");
  el.setAttribute("category", "Toys");
  el.setAttribute("exclude", "t1");
  await settle();
  await el.settled();
  assert.deepEqual(p.api.gets().slice(1), ["/v1/items/popular?k=3&exclude=t1&category=Toys"], "three changes, one request");

  // the first answer is slow, the second fast: the second stays
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  p.api.on("GET", /\/v1\/items\/popular/, async (q) => {
    if (q.query.get("category") === "Slow") await gate;
    return { status: 200, body: list([q.query.get("category") === "Slow" ? "slow" : "fast"], { category: null, built_ms: 1 }) };
  });
  el.setAttribute("category", "Slow");
  await settle();
  el.setAttribute("category", "Fast");
  await settle();
  await el.settled();
  release();
  await settle();
  assert.deepEqual(p.$$("graphrec-trending [data-item-id]").map((c) => c.getAttribute("data-item-id")), ["fast"]);
  // malformed attributes are left out with a warning, not sent
  el.setAttribute("k", "lots");
  el.setAttribute("exclude", "ok, a/b");
  el.setAttribute("price-min", "-3");
  await settle();
  await el.settled();
  assert.equal(p.api.gets().at(-1), "/v1/items/popular?k=10&exclude=ok&category=Fast");
  assert.equal(p.warnings.length, 3, p.warnings.join("\n"));
  // removed from the page: nothing more is asked
  const before = p.api.requests.length;
  el.remove();
  el.setAttribute("k", "4");
  await settle();
  assert.equal(p.api.requests.length, before);
  await p.r.close();
});

// ---- consent, the personal list, impressions and clicks ---------------------------------------------------

const ROW = `<graphrec-recommendations k="3" exclude="cart-1">${CARD}<div class="row" data-list></div></graphrec-recommendations>
  <graphrec-trending id="strict" require-consent k="2"><p id="later">Trending, once you accept</p></graphrec-trending>`;

test("widgets: before consent nothing names the visitor, nothing is stored or posted; after consent the list is personal", async () => {
  const p = page({ requireConsent: true });
  p.api.on("GET", /\/v1\/anonymous\/[^/]+\/recommendations/, () => ({ status: 200, body: personal(["r1", "r2", "r3"]) }));
  await p.put(ROW);
  const rec = p.$("graphrec-recommendations") as WidgetElement;
  // before: the trending list (a shared list, no visitor in it), the strict widget asks nothing at all
  assert.deepEqual(p.api.gets(), ["/v1/items/popular?k=3&exclude=cart-1"]);
  assert.equal(p.api.requests.filter((q) => q.method !== "GET").length, 0);
  assert.deepEqual(p.storage.keys(), [], "no id, no consent, no queue stored");
  assert.equal(rec.rendered!.list, "trending");
  assert.equal(rec.getAttribute("data-state"), "fallback");
  assert.ok(!p.$(".row").hasAttribute("data-recommendation-id"));
  assert.equal(p.$("#strict").getAttribute("data-state"), "children");
  // cards of the trending row are seen and clicked before consent: nothing is sent
  for (const io of FakeIO.all) for (const t of io.targets) io.fire(t, 100, 200);
  (p.$(".row a") as HTMLElement).click();
  await p.r.clock.advance(3000);
  assert.equal(p.api.requests.filter((q) => q.method !== "GET").length, 0);

  // consent: both re-render by themselves (the widgets follow the tracker)
  p.tracker.consent(true);
  await settle();
  await p.widgets.settled();
  const aid = p.tracker.anonymousId!;
  assert.ok(p.api.gets().includes(`/v1/anonymous/${aid}/recommendations?k=3&exclude=cart-1`), p.api.gets().join("\n"));
  assert.equal(rec.getAttribute("data-state"), "list");
  assert.equal(rec.rendered!.recommendationId, "rec_1");
  assert.equal(p.$(".row").getAttribute("data-recommendation-id"), "rec_1");
  assert.deepEqual(p.$$(".row [data-item-id]").map((c) => c.getAttribute("data-item-id")), ["r1", "r2", "r3"]);
  assert.equal(p.$("#strict").getAttribute("data-state"), "list");
  assert.ok(p.$("#later").hasAttribute("hidden"));

  // opting out: back to the shared list, the list's id gone from the row
  p.tracker.optOut();
  await settle();
  await p.widgets.settled();
  assert.equal(rec.rendered!.list, "trending");
  assert.ok(!p.$(".row").hasAttribute("data-recommendation-id"));
  assert.equal(p.$("#strict").getAttribute("data-state"), "children");
  await p.r.close();
});

test("widgets: analytics without personalisation shows the fallback and asks for no personal list; granting it reloads the row as personal", async () => {
  const p = page({ requireConsent: true });
  p.api.on("GET", /\/v1\/anonymous\/[^/]+\/recommendations/, () => ({ status: 200, body: personal(["r1", "r2", "r3"]) }));
  await p.put(ROW);
  const rec = p.$("graphrec-recommendations") as WidgetElement;
  p.tracker.consent({ analytics: true, personalisation: false });
  await settle();
  await p.widgets.settled();
  assert.ok(p.tracker.anonymousId, "analytics: the visitor exists");
  assert.deepEqual([rec.rendered!.list, rec.getAttribute("data-state"), rec.rendered!.recommendationId], ["trending", "fallback", null]);
  assert.ok(!p.$(".row").hasAttribute("data-recommendation-id"), "no list id: its cards make no impressions");
  assert.deepEqual(p.api.gets().filter((g) => !g.startsWith("/v1/items/popular")), [], "no list naming the visitor");
  assert.equal(p.$("#strict").getAttribute("data-state"), "list", "require-consent follows analytics");

  p.tracker.consent({ analytics: true, personalisation: true });
  await settle();
  await p.widgets.settled();
  assert.deepEqual(p.api.gets().filter((g) => g.includes("/v1/anonymous/")), [`/v1/anonymous/${p.tracker.anonymousId}/recommendations?k=3&exclude=cart-1`]);
  assert.deepEqual([rec.rendered!.list, rec.getAttribute("data-state"), rec.rendered!.recommendationId], ["recommendations", "list", "rec_1"]);
  assert.equal(p.$(".row").getAttribute("data-recommendation-id"), "rec_1");
  await p.r.close();
});

test("widgets: the personal row's cards seen become impressions of its list, a click on a card names the list", async () => {
  const p = page({ requireConsent: true });
  p.api.on("GET", /\/v1\/anonymous\/[^/]+\/recommendations/, () => ({ status: 200, body: personal(["r1", "r2", "r3"], "rec_7") }));
  await p.put(ROW);
  p.tracker.consent(true);
  await settle();
  await p.widgets.settled();
  await settle();
  const cards = p.$$(".row [data-item-id]");
  assert.equal(cards.length, 3);
  // r1 in full view, r2 half, r3 clipped (40 %): a second later, r1 and r2 are impressions of rec_7
  const fire = (el: Element, top: number) => FakeIO.of(el).fire(el, top, 200);
  fire(cards[0]!, 100);
  fire(cards[1]!, 668);
  fire(cards[2]!, 688);
  await p.r.clock.advance(1000);
  await p.r.clock.advance(1500);
  const imps = p.api.posts("/v1/impressions");
  assert.deepEqual(imps.map((q) => [q.body.recommendation_id, q.body.item_ids, q.body.anonymous_id]), [["rec_7", ["r1", "r2"], p.tracker.anonymousId]]);
  // a click on the first card's link: a click event of r1 naming the list; the cart button its own type
  (cards[0]!.querySelector("a") as HTMLElement).click();
  (cards[1]!.querySelector("button") as HTMLElement).click();
  await p.r.clock.advance(1500);
  const events = p.api.posts("/v1/events").flatMap((q) => q.body.events);
  assert.deepEqual(events.map((e: any) => [e.type, e.item_id, e.context.recommendation_id]), [["click", "r1", "rec_7"], ["add_to_cart", "r2", "rec_7"]]);
  // a fallback list in the same row carries no list id: its cards are no impressions of rec_7
  p.api.on("GET", /\/v1\/anonymous\/[^/]+\/recommendations/, () => ({ status: 503, body: { detail: "down" } }));
  await (p.$("graphrec-recommendations") as WidgetElement).refresh();
  await settle();
  assert.equal(p.$("graphrec-recommendations").getAttribute("data-shows"), "trending");
  for (const c of p.$$(".row [data-item-id]")) {
    try {
      fire(c, 100);
    } catch {
      /* not observed at all: fine */
    }
  }
  await p.r.clock.advance(2500);
  assert.equal(p.api.posts("/v1/impressions").length, 1, "no impressions for a row without a list id");
  await p.r.close();
});

test("widgets: defined once per prefix; another prefix gives a second set", async () => {
  const p = page();
  assert.throws(() => defineWidgets({ tracker: p.tracker, window: p.r.window }), /already defined/);
  const other = defineWidgets({ tracker: p.tracker, window: p.r.window, prefix: "shop", followTracker: false });
  assert.equal(other.tags["bought-together"], "shop-bought-together");
  await p.put(`<shop-trending k="1"></shop-trending>`);
  assert.equal(p.$$("shop-trending [data-item-id]").length, 1);
  assert.throws(() => defineWidgets({} as never), /needs \{ tracker \}/);
  await p.r.close();
});

test("widgets: a user known before consent (identify, userId) is not asked for either; after consent, theirs is the list", async () => {
  const p = page({ requireConsent: true, userId: "u42" });
  p.api.on("GET", /\/v1\/users\/u42\/recommendations/, () => ({ status: 200, body: personal(["r1"], "rec_u") }));
  await p.put(ROW);
  assert.deepEqual(p.api.gets(), ["/v1/items/popular?k=3&exclude=cart-1"]);
  p.tracker.consent(true);
  await settle();
  await p.widgets.settled();
  assert.ok(p.api.gets().includes("/v1/users/u42/recommendations?k=3&exclude=cart-1"), p.api.gets().join("\n"));
  assert.equal(p.$(".row").getAttribute("data-recommendation-id"), "rec_u");
  // signing out: a new anonymous visitor, whose list the row shows at once
  p.api.on("GET", /\/v1\/anonymous\/[^/]+\/recommendations/, () => ({ status: 200, body: personal(["r2"], "rec_a") }));
  p.tracker.reset();
  await settle();
  await p.widgets.settled();
  assert.equal(p.$(".row").getAttribute("data-recommendation-id"), "rec_a");
  await p.r.close();
});
