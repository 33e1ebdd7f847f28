// The graphrec demo storefront: plain DOM, no framework, no CDN. It reads the catalogue API
// (/v1/categories, /v1/items), and shows its lists with the tracker package's widgets (the IIFE
// bundles loaded before this module, global `graphrec`): "Recommended for you"
// (<graphrec-recommendations>: the visitor's anonymous recommendations with the page's publishable
// key, trending items before consent), "Trending now" (<graphrec-trending>), and on product pages
// "Similar items" (<graphrec-similar>) and "Frequently bought together" (<graphrec-bought-together>,
// also for the cart). The graphrec tracker records what the visitor does.
//
// Markup the tracker reads: every product card is an element with data-item-id; links carry
// data-track="click", cart buttons data-track="add_to_cart"; sections carry data-page-section
// (context.page_section of the events inside). A widget showing a personal list puts its
// recommendation_id on its cards' container (data-recommendation-id): the tracker reports those cards
// as impressions of that list when at least half of a card is visible for a second (never as
// interactions), and clicks inside it name the list (context.recommendation_id). A product page is a
// route /demo/item/<id>: the tracker's pageItemId option names its item (view, dwell, scroll depth:
// scroll depth is an interaction with the page's own item only). Cards also carry data-category so a
// test can measure what the recommendations are made of. The widgets render the page's <template>
// (cardTemplate) with text bindings only: catalogue titles never become markup.

const BASE = "/demo";
const config = JSON.parse(document.getElementById("graphrec-config").textContent || "{}");
const key = config.key || undefined;
// Test hook: an end-to-end test may shorten the tracker's timings (heartbeats, debounce) here.
const tuning = globalThis.graphrecStorefront || {};
const CART_KEY = "graphrec-demo.cart";
const ROW_SIZE = 8;

const tracker = graphrec.createTracker(Object.assign({
  endpoint: location.origin,
  key,
  requireConsent: true, // nothing is tracked, stored or sent before the banner is answered
  pageItemId: () => itemOfPath(location.pathname),
}, tuning.tracker || {}));
// The widgets follow the tracker: after consent (or an opt-out) the personal row reloads by itself.
const widgets = graphrec.defineWidgets({ tracker });

// ---- the API -------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    this.status = status;
    this.detail = detail;
  }
}

/** GET an API path; array params are repeated (exclude=a&exclude=b), null/undefined left out. */
async function api(path, params = {}) {
  const qs = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) value.forEach((v) => qs.append(name, v));
    else qs.set(name, String(value));
  }
  const query = qs.toString();
  const res = await fetch(path + (query ? `?${query}` : ""), { headers: key ? { "X-API-Key": key } : {}, credentials: "omit" });
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  if (!res.ok) throw new ApiError(res.status, body && body.detail !== undefined ? body.detail : res.statusText);
  return body;
}

const seg = (id) => encodeURIComponent(id);
const itemHref = (id) => `${BASE}/item/${seg(id)}`;
const categoryHref = (name) => `${BASE}/category/${seg(name)}`;

/** A path segment decoded, or null when it is empty or malformed. */
function decoded(segment) {
  try {
    return segment ? decodeURIComponent(segment) : null;
  } catch {
    return null;
  }
}

function itemOfPath(path) {
  const prefix = `${BASE}/item/`;
  return path.startsWith(prefix) ? decoded(path.slice(prefix.length)) : null;
}

// ---- DOM helpers -----------------------------------------------------------------------------------

/** An element with attributes (null/false left out) and children (strings become text, never HTML). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const main = document.getElementById("main");

function show(view, ...nodes) {
  main.replaceChildren(...nodes);
  main.dataset.view = view;
}

function price(it) {
  if (typeof it.price !== "number") return null;
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: it.currency || "EUR" }).format(it.price);
  } catch {
    return it.price.toFixed(2);
  }
}

const imageOf = (it) => it.image_url || `${BASE}/img/${seg(it.item_id)}`;
const categoriesOf = (it) => (Array.isArray(it.categories) ? it.categories : []);

/** A product card: data-item-id (the tracker's item element), data-category (its first category). */
function card(it, opts = {}) {
  const cats = categoriesOf(it);
  const el = h("article", { class: "card", "data-item-id": it.item_id, "data-category": cats[0] || "" },
    h("a", { class: "card-link", href: itemHref(it.item_id), "data-track": "click" },
      h("img", { src: imageOf(it), alt: "", width: 200, height: 150, loading: "lazy" }),
      h("span", { class: "title" }, it.title || it.item_id)),
    h("div", { class: "meta" },
      h("span", { class: "cat" }, cats.join(", ") || "uncategorised"),
      h("span", { class: "price" }, price(it) || "")),
    h("button", { type: "button", class: "add", "data-track": "add_to_cart", "data-action": "add" }, "Add to cart"));
  if (opts.fresh) el.classList.add("fresh");
  itemCache.set(it.item_id, it);
  return el;
}

const itemCache = new Map();

/** The card the widgets render for each item: the same markup as card(), as a <template> with bindings
 * (data-field: text; data-href/data-src: http(s) URLs, the catalogue's or the demo's own pages; data-attr). */
function cardTemplate() {
  const t = document.createElement("template");
  t.content.append(h("article", { class: "card", "data-attr": "data-category:category" },
    h("a", { class: "card-link", "data-href": `url ${BASE}/item/{item_id}`, "data-track": "click" },
      h("img", { "data-src": `image_url ${BASE}/img/{item_id}`, alt: "", width: 200, height: 150, loading: "lazy" }),
      h("span", { class: "title", "data-field": "title" })),
    h("div", { class: "meta" },
      h("span", { class: "cat", "data-field": "categories" }),
      h("span", { class: "price", "data-field": "price" })),
    h("button", { type: "button", class: "add", "data-track": "add_to_cart", "data-action": "add" }, "Add to cart")));
  return t;
}

/** A widget element (`tag`) with the card template, the page's container for its cards (`listAttrs`)
 * and the text shown until a list arrives and when none can be shown; `onRender(detail, widget)` after
 * each render. */
function widget(tag, attrs, listAttrs, fallbackText, onRender) {
  const el = h(tag, attrs, cardTemplate(), h("div", Object.assign({ class: "cards", "data-list": "" }, listAttrs)),
    h("p", { class: "why", "data-fallback": "" }, "loading…"));
  el.addEventListener("graphrec:render", (ev) => {
    ev.detail.items.forEach((it) => itemCache.set(it.item_id, it)); // the cart keeps title and price
    if (!ev.detail.items.length) el.querySelector("[data-fallback]").textContent = fallbackText(ev.detail);
    if (onRender) onRender(ev.detail, el);
  });
  return el;
}

const failed = (d) => (d.error ? ` (${d.error.message || d.error})` : "");

// ---- cart ------------------------------------------------------------------------------------------

function readCart() {
  try {
    const c = JSON.parse(localStorage.getItem(CART_KEY) || "[]");
    return Array.isArray(c) ? c.filter((x) => x && typeof x.item_id === "string") : [];
  } catch {
    return [];
  }
}

function writeCart(items) {
  try {
    if (items.length) localStorage.setItem(CART_KEY, JSON.stringify(items));
    else localStorage.removeItem(CART_KEY);
  } catch {
    /* storage blocked: the cart lives for this page */
  }
  document.getElementById("cart-count").textContent = String(items.length);
}

const cartIds = () => readCart().map((x) => x.item_id);

function addToCart(itemId) {
  const cart = readCart();
  if (!cart.some((x) => x.item_id === itemId)) {
    const it = itemCache.get(itemId) || { item_id: itemId };
    cart.push({ item_id: itemId, title: it.title || null, price: it.price ?? null, currency: it.currency || null,
      image_url: it.image_url || null, categories: categoriesOf(it) });
    writeCart(cart);
  }
  // The add_to_cart event itself is the tracker's (data-track on the button). The lists leave the cart
  // out a little later, so the event goes out in the tracker's own batch (or in the beacon if the page
  // closes); the personal row, reloading, sends what is queued first.
  setTimeout(excludeCart, 1500);
}

/** Every list on the page leaves out what is in the cart: a changed attribute reloads a widget. */
function excludeCart() {
  const cart = cartIds().join(",");
  document.querySelectorAll("graphrec-recommendations, graphrec-similar, graphrec-bought-together[item]").forEach((el) => el.setAttribute("exclude", cart));
}

// ---- "Recommended for you" -------------------------------------------------------------------------

let refreshes = 0;
let lastRow = new Set();

/** The row: <graphrec-recommendations>, the visitor's list without what is in the cart (trending items
 * before consent, or when the personal list fails). The widget reloads it after consent and when the
 * cart changes; each render is counted here (data-refreshes), its new items highlighted. */
function recommendedSection() {
  return h("section", { id: "recommended", class: "row", "data-page-section": "recommended", "data-state": "loading" },
    h("div", { class: "row-head" }, h("h2", {}, "Recommended for you"), h("span", { class: "why", id: "recommended-why" }, "")),
    widget("graphrec-recommendations", { k: ROW_SIZE, exclude: cartIds().join(",") }, { id: "recommended-cards" },
      (d) => `could not load recommendations${failed(d)}`, showRecommended));
}

function showRecommended(d, el) {
  const section = el.closest("section");
  const body = d.response || {};
  const state = d.list === "recommendations" ? (body.cold_start ? "cold" : "personal") : d.list === "trending" ? "popular" : "error";
  const why = {
    popular: tracker.consentState === "denied" ? "trending now (personalisation is off)"
      : tracker.consentState === "pending" ? "trending now: accept the banner to personalise"
      : `trending now: your recommendations could not be loaded${failed(d)}`,
    cold: "trending now: browse a little and this row learns what you like",
    personal: `from what you did on this site, updated ${new Date().toLocaleTimeString()}`,
    error: "",
  }[state];
  for (const c of el.querySelectorAll("[data-list] > [data-item-id]")) {
    if (refreshes > 0 && !lastRow.has(c.getAttribute("data-item-id"))) c.classList.add("fresh");
  }
  document.getElementById("recommended-why").textContent = why;
  lastRow = new Set(d.items.map((it) => it.item_id));
  refreshes += 1;
  section.dataset.state = state;
  section.dataset.refreshes = String(refreshes);
  section.dataset.model = body.model_version || "";
}

// ---- pages -----------------------------------------------------------------------------------------

let categories = [];

async function loadCategories() {
  try {
    const body = await api("/v1/categories");
    categories = body.data;
  } catch (e) {
    notice(`could not load categories (${e.message})`);
    categories = [];
  }
  const nav = document.getElementById("categories");
  nav.replaceChildren(...categories.map((c) => h("a", { href: categoryHref(c.name), "data-category-link": c.name }, c.name)));
}

async function homePage() {
  show("home", recommendedSection(),
    h("section", { class: "row", "data-page-section": "trending" },
      h("div", { class: "row-head" }, h("h2", {}, "Trending now"), h("span", { class: "why" }, "what everyone interacts with lately")),
      widget("graphrec-trending", { k: 12 }, { class: "cards grid", id: "grid" }, (d) => `could not load trending items${failed(d)}`)),
    h("section", { class: "row", "data-page-section": "categories" },
      h("div", { class: "row-head" }, h("h2", {}, "Shop by category")),
      h("div", { class: "chips" }, categories.map((c) => h("a", { class: "chip", href: categoryHref(c.name) }, `${c.name} (${c.items})`)))));
  await widgets.settled();
}

async function categoryPage(name) {
  const grid = h("div", { class: "cards grid", id: "grid" });
  const more = h("button", { type: "button", class: "more", hidden: true }, "More");
  show("category", h("section", { class: "row", "data-page-section": "category" },
    h("div", { class: "row-head" }, h("h2", {}, name)), grid, more));
  let cursor = null;
  const load = async () => {
    more.hidden = true;
    try {
      const page = await api("/v1/items", { category: name, limit: 24, cursor });
      grid.append(...page.data.map((it) => card(it)));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (e) {
      grid.append(h("p", { class: "error" }, e.status === 422 ? `no category '${name}'` : `could not load items (${e.message})`));
    }
  };
  more.addEventListener("click", () => void load());
  await load();
}

async function itemPage(id) {
  let it;
  try {
    it = await api(`/v1/items/${seg(id)}`);
  } catch (e) {
    show("missing", h("p", { class: "error" }, e.status === 404 ? `no item '${id}'` : `could not load item (${e.message})`));
    return;
  }
  itemCache.set(it.item_id, it);
  const cats = categoriesOf(it);
  const inCart = cartIds().includes(it.item_id);
  const exclude = cartIds().join(",");
  show("item",
    h("section", { class: "product", "data-page-section": "product", "data-item-id": it.item_id, "data-category": cats[0] || "" },
      h("img", { src: imageOf(it), alt: "", width: 400, height: 300 }),
      h("div", { class: "details" },
        h("h1", {}, it.title || it.item_id),
        h("p", { class: "cats" }, cats.map((c) => h("a", { class: "chip", href: categoryHref(c) }, c))),
        h("p", { class: "price" }, price(it) || ""),
        it.available === false ? h("p", { class: "error" }, "currently unavailable") : null,
        h("button", { type: "button", id: "item-add", class: "primary add", "data-track": "add_to_cart", "data-action": "add",
          disabled: it.available === false }, inCart ? "In your cart" : "Add to cart"),
        h("p", { class: "about" }, "A placeholder product of the demo catalogue. The time you spend here and how far ",
          "you scroll are recorded as dwell and scroll events for this item (after consent)."))),
    // Similar items; trending ones (the widget's fallback) when the model knows nothing like it
    h("section", { class: "row", id: "similar", "data-page-section": "similar" },
      h("div", { class: "row-head" }, h("h2", { id: "similar-title" }, "Similar items")),
      widget("graphrec-similar", { item: it.item_id, k: 6, exclude }, { id: "similar-cards" },
        (d) => (d.error && d.error.status === 404 ? "no model knows this item yet" : `nothing similar yet${failed(d)}`),
        (d) => (document.getElementById("similar-title").textContent = d.list === "trending" ? "Trending now" : "Similar items"))),
    // what shoppers bought or carted with it; nothing (no fallback list) when nobody did
    h("section", { class: "row", id: "bought-together", "data-page-section": "bought-together" },
      h("div", { class: "row-head" }, h("h2", {}, "Frequently bought together")),
      widget("graphrec-bought-together", { item: it.item_id, k: 6, exclude, fallback: "none" }, { id: "bought-together-cards" },
        (d) => `nobody bought this with anything else yet${failed(d)}`)));
  await widgets.settled();
}

function cartPage(thanks = false) {
  const cart = readCart();
  const list = h("ul", { class: "cart-list" }, cart.map((x) => h("li", { "data-item-id": x.item_id, "data-category": (x.categories || [])[0] || "" },
    h("a", { href: itemHref(x.item_id), "data-track": "click" }, x.title || x.item_id),
    h("span", { class: "price" }, price(x) || ""),
    h("button", { type: "button", class: "link", "data-action": "remove" }, "remove"))));
  const checkout = h("button", { type: "button", class: "primary", id: "checkout", disabled: !cart.length }, "Check out");
  checkout.addEventListener("click", () => {
    // one purchase event per item, with its catalogue price: revenue per list in /v1/feedback and on the dashboard
    const priced = (x) => typeof x.price === "number" && x.price >= 0 && /^[A-Z]{3}$/.test(x.currency || "");
    const lines = readCart().map((x) => (priced(x) ? { itemId: x.item_id, price: x.price, currency: x.currency } : x.item_id));
    tracker.purchase(lines, { orderId: `demo-${Date.now().toString(36)}` });
    writeCart([]);
    cartPage(true);
  });
  show("cart",
    h("section", { class: "row", "data-page-section": "cart" },
      h("div", { class: "row-head" }, h("h2", {}, "Your cart")),
      thanks ? h("p", { class: "ok" }, "Thank you: your order is placed (a demo; nothing ships).") : null,
      cart.length ? list : h("p", { class: "why" }, "empty"),
      checkout),
    cart.length ? h("section", { class: "row", id: "bought-together", "data-page-section": "bought-together" },
      h("div", { class: "row-head" }, h("h2", {}, "Often bought with your cart")),
      widget("graphrec-bought-together", { items: cartIds().join(","), k: 6, fallback: "none" }, { id: "bought-together-cards" },
        (d) => `nobody bought these with anything else yet${failed(d)}`)) : null,
    recommendedSection());
}

async function render() {
  const path = location.pathname.replace(/\/+$/, "") || "/";
  const item = itemOfPath(path);
  main.dataset.ready = "";
  // The old page's cards go at once, before anything is awaited: the tracker looks for the new page's
  // item elements right after the route change, and must not find the old ones still there.
  show("loading", h("p", { class: "why" }, "loading…"));
  if (path === BASE) await homePage();
  else if (path === `${BASE}/cart`) cartPage();
  else if (item !== null) await itemPage(item);
  else if (path.startsWith(`${BASE}/category/`) && decoded(path.slice(`${BASE}/category/`.length)) !== null) {
    await categoryPage(decoded(path.slice(`${BASE}/category/`.length)));
  } else show("missing", h("p", { class: "error" }, "no such page"));
  main.dataset.ready = path; // end-to-end tests wait for this
}

// ---- navigation, consent, notices ------------------------------------------------------------------

function notice(text) {
  const el = document.getElementById("notice");
  el.textContent = text;
  el.hidden = false;
}

const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));

async function go(href) {
  if (window.scrollY > 0) {
    // Back to the top BEFORE the route changes: the browser fires the scroll event in the next frame,
    // and on the new page the tracker would take it for the visitor scrolling (and report the depth
    // of a product page nobody scrolled).
    window.scrollTo(0, 0);
    await nextFrame();
  }
  history.pushState({}, "", href); // the tracker follows pushState: a page view of the new page's item
  await render();
}

document.addEventListener("click", (ev) => {
  const target = ev.target instanceof Element ? ev.target : null;
  const action = target && target.closest("[data-action]");
  if (action) {
    const holder = action.closest("[data-item-id]");
    const id = holder && holder.getAttribute("data-item-id");
    if (id && action.dataset.action === "add") {
      addToCart(id);
      action.textContent = "In your cart";
    } else if (id && action.dataset.action === "remove") {
      writeCart(readCart().filter((x) => x.item_id !== id));
      cartPage();
    }
    return;
  }
  const link = target && target.closest("a[href]");
  if (!link || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === BASE || url.pathname.startsWith(`${BASE}/`))) return;
  ev.preventDefault();
  if (url.pathname + url.search !== location.pathname + location.search) void go(url.pathname + url.search);
});

window.addEventListener("popstate", () => void render());

function showPrivacy() {
  const state = tracker.consentState;
  document.getElementById("consent").hidden = state !== "pending";
  document.getElementById("privacy-state").textContent =
    state === "granted" ? "Personalisation on." : state === "denied" ? "Personalisation off: nothing is recorded." : "";
  document.getElementById("privacy-change").hidden = state === "pending";
}

// The widgets reload the personal row by themselves after consent(true) and optOut().
document.getElementById("consent-accept").addEventListener("click", () => {
  tracker.consent(true); // starts tracking, and sends the page view of the current page
  showPrivacy();
});
document.getElementById("consent-decline").addEventListener("click", () => {
  tracker.optOut();
  showPrivacy();
});
document.getElementById("privacy-change").addEventListener("click", () => {
  if (tracker.consentState === "granted") tracker.optOut();
  else tracker.consent(true);
  showPrivacy();
});

if (!key) notice("This server has no publishable key (GRAPHREC_PUBLISHABLE_KEYS): you can browse, but nothing you do is recorded.");
writeCart(readCart());
showPrivacy();
await loadCategories();
await render();
