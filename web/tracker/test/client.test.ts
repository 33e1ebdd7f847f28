import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, GraphrecError } from "../src/index";
import { FakeFetch, rig } from "./helpers";

const item = (id: string) => ({ item_id: id, title: null, score: 1, source: "graph" });
const recs = (ids: string[]) => ({ user_id: "u42", model_version: "v1", degraded: false, cold_start: false, personalised_from: "model", data: ids.map(item), count: ids.length });

test("client: recommendations builds the URL, sends the key, and `exclude` and `cursor` go to the server", async () => {
  const http = new FakeFetch();
  const c = createClient({ endpoint: "https://api.example.com/", key: "pk_test_1", fetch: http.fetch as typeof fetch });
  http.replies.push({ status: 200, body: { ...recs(["sku-1", "sku-3", "sku-4"]), next_cursor: "c1.m" } });
  const r = await c.recommendations("u 42", { k: 3, exclude: ["sku-2", "sku 5"], explain: true, excludeSeen: false });
  assert.equal(http.sent[0]!.url, "https://api.example.com/v1/users/u%2042/recommendations?k=3&explain=true&exclude=sku-2%2Csku%205&exclude_seen=false");
  assert.equal(http.sent[0]!.method, "GET");
  assert.equal(http.sent[0]!.headers["X-API-Key"], "pk_test_1");
  assert.deepEqual(r.data.map((d) => d.item_id), ["sku-1", "sku-3", "sku-4"]);
  assert.equal(r.next_cursor, "c1.m");
  http.replies.push({ status: 200, body: { ...recs(["sku-7"]), next_cursor: null } });
  await c.recommendations("u42", { k: 3, cursor: r.next_cursor });
  assert.equal(http.sent[1]!.url, "https://api.example.com/v1/users/u42/recommendations?k=3&cursor=c1.m");

  http.replies.push({ status: 200, body: { item_id: "sku-9", model_version: null, degraded: true, data: [], count: 0 } });
  await c.similar("sku-9", { k: 5, exclude: ["sku-1"], cursor: "c2.m" });
  http.replies.push({ status: 200, body: { category: "books", data: [], count: 0, built_ms: 1 } });
  await c.popular({ category: "books & more", k: 3 });
  http.replies.push({ status: 200, body: { loaded: false } });
  await c.model();
  assert.deepEqual(http.sent.slice(2).map((s) => s.url.replace("https://api.example.com", "")), [
    "/v1/items/sku-9/similar?k=5&cursor=c2.m&exclude=sku-1", "/v1/items/popular?k=3&category=books%20%26%20more", "/v1/model",
  ]);
  await assert.rejects(c.popular({ exclude: ["ok", "a/b"] }), /exclude must not contain '\/'/);
  assert.equal(http.sent.length, 5, "a bad exclude id is refused before any request");
});

test("client: price and attribute filters go to every list, attributes as repeated attr=name:value", async () => {
  const http = new FakeFetch();
  const c = createClient({ endpoint: "https://api.example.com", key: "pk_test_1", fetch: http.fetch as typeof fetch });
  const filters = { priceMin: 5, priceMax: 20, attributes: { brand: "acme & co", size: "m" } };
  http.replies.push({ status: 200, body: recs([]) });
  await c.anonymousRecommendations("v1", { k: 2, ...filters });
  http.replies.push({ status: 200, body: { item_id: "sku-9", model_version: null, degraded: true, data: [], count: 0 } });
  await c.similar("sku-9", { k: 2, category: "shirts", ...filters });
  http.replies.push({ status: 200, body: { category: null, data: [], count: 0, built_ms: 1 } });
  await c.popular({ k: 2, ...filters });
  const q = "price_min=5&price_max=20&attr=brand%3Aacme%20%26%20co&attr=size%3Am";
  assert.deepEqual(http.sent.map((s) => s.url.replace("https://api.example.com", "")), [
    `/v1/anonymous/v1/recommendations?k=2&${q}`,
    `/v1/items/sku-9/similar?k=2&${q}&category=shirts`,
    `/v1/items/popular?k=2&${q}`,
  ]);
});

test("client: catalogue reads (categories, a page of items, one item)", async () => {
  const http = new FakeFetch();
  const c = createClient({ endpoint: "https://api.example.com", key: "pk_test_1", fetch: http.fetch as typeof fetch });
  http.replies.push({ status: 200, body: { data: [{ name: "Kitchen", items: 2 }], count: 1 } });
  assert.deepEqual((await c.categories()).data, [{ name: "Kitchen", items: 2 }]);
  const mug = { item_id: "mug", title: "Mug", categories: ["Kitchen"], url: "/p/mug", image_url: null, price: 9.5, currency: "EUR", available: true, provisional: false };
  http.replies.push({ status: 200, body: { data: [mug], count: 1, next_cursor: "n.m" } });
  const page = await c.items({ category: "Kitchen", limit: 1 });
  assert.equal(page.next_cursor, "n.m");
  http.replies.push({ status: 200, body: { data: [], count: 0, next_cursor: null } });
  await c.items({ category: "Kitchen", limit: 1, cursor: page.next_cursor });
  http.replies.push({ status: 200, body: mug });
  assert.equal((await c.item("mug")).price, 9.5);
  http.replies.push({ status: 404, body: { detail: "unknown item 'x y'" } });
  await assert.rejects(c.item("x y"), (e: unknown) => e instanceof GraphrecError && e.status === 404);
  assert.deepEqual(http.sent.map((s) => s.url.replace("https://api.example.com", "")), [
    "/v1/categories", "/v1/items?category=Kitchen&limit=1", "/v1/items?category=Kitchen&limit=1&cursor=n.m",
    "/v1/items/mug", "/v1/items/x%20y",
  ]);
  await assert.rejects(c.item("a/b"), /item_id must not contain '\/'/);
});

test("client: bad ids are refused before any request; errors carry status, detail and Retry-After", async () => {
  const http = new FakeFetch();
  const c = createClient({ endpoint: "https://api.example.com", fetch: http.fetch as typeof fetch });
  await assert.rejects(c.similar("a/b"), /item_id must not contain '\/'/);
  assert.equal(http.sent.length, 0);
  http.replies.push({ status: 503, headers: { "Retry-After": "2" }, body: { detail: "the graph store is unavailable" } });
  await assert.rejects(c.popular(), (e: unknown) => {
    assert.ok(e instanceof GraphrecError);
    assert.equal(e.status, 503);
    assert.equal(e.retryAfter, 2);
    assert.match(e.message, /store is unavailable/);
    return true;
  });
  http.replies.push("network");
  await assert.rejects(c.model(), (e: unknown) => e instanceof GraphrecError && e.status === 0);
  assert.equal(http.sent[0]!.headers["X-API-Key"], undefined, "no key, no header");
});

test("tracker: recommendations() defaults to the current user, else the anonymous visitor; trending before consent", async () => {
  const r = rig({ pageViews: false, activity: false, scroll: false, requireConsent: true });
  r.http.replies.push({ status: 200, body: { category: null, data: [item("sku-5")], count: 1, built_ms: 1 } });
  const generic = await r.tracker.recommendations({ k: 2 });
  assert.equal(r.http.sent[0]!.url, "https://api.example.com/v1/items/popular?k=2", "before consent: trending, naming no one");
  assert.equal(generic.personalised_from, "none");
  assert.deepEqual(generic.data.map((d) => d.item_id), ["sku-5"]);
  assert.deepEqual(r.storage.keys(), [], "asking before consent makes no visitor");
  r.http.sent.length = 0;
  r.tracker.consent(true); // the visitor id is made here: nothing tracked yet, and the list works at once
  const aid = r.tracker.anonymousId!;
  assert.match(aid, /^a-/);
  assert.equal(r.storage.getItem("graphrec.anonymous_id"), aid);
  r.http.replies.push({ status: 200, body: recs([]) });
  await r.tracker.recommendations({ k: 2 });
  assert.equal(r.http.sent.at(-1)!.url, `https://api.example.com/v1/anonymous/${aid}/recommendations?k=2`);
  r.http.replies.push({ status: 200, body: recs([]) });
  await r.tracker.recommendations(undefined, { k: 3 });
  assert.equal(r.http.sent.at(-1)!.url, `https://api.example.com/v1/anonymous/${aid}/recommendations?k=3`);
  r.tracker.track("click", "sku-1");
  await r.clock.advance(1000);
  assert.deepEqual(r.http.events().map((e) => e.anonymous_id), [aid], "events carry the same visitor");
  r.tracker.identify("u42");
  r.http.replies.push({ status: 200, body: recs([]) });
  await r.tracker.recommendations();
  assert.equal(r.http.sent.at(-1)!.url, "https://api.example.com/v1/users/u42/recommendations?k=10");
  await r.close();
});

test("client: impressions POSTs the shown items of a list as JSON with the key", async () => {
  const http = new FakeFetch();
  const c = createClient({ endpoint: "https://api.example.com", key: "pk_test_1", fetch: http.fetch as typeof fetch });
  http.replies.push({ status: 202, body: { recommendation_id: "r1", recorded: 2 } });
  const r = await c.impressions("r1", ["sku-1", "sku-2"], { anonymousId: "a-1" });
  assert.equal(r.recorded, 2);
  const sent = http.sent[0]!;
  assert.equal(sent.url, "https://api.example.com/v1/impressions");
  assert.equal(sent.method, "POST");
  assert.equal(sent.headers["X-API-Key"], "pk_test_1");
  assert.equal(sent.headers["Content-Type"], "application/json");
  assert.deepEqual(sent.body, { recommendation_id: "r1", item_ids: ["sku-1", "sku-2"], anonymous_id: "a-1" });
  await assert.rejects(c.impressions("r1", ["a/b"], { userId: "u1" }), /item_ids must not contain '\/'/);
  assert.equal(http.sent.length, 1, "a bad item id is refused before any request");
});

test("client: bought together, of one item (its path) or of a cart (items=, ids checked first), with the list's filters", async () => {
  const http = new FakeFetch();
  const c = createClient({ endpoint: "https://api.example.com", key: "pk_test_1", fetch: http.fetch as typeof fetch });
  const answer = { item_ids: ["sku 9"], data: [], count: 0, built_ms: 1, reason: "no_co_purchases" };
  http.replies.push({ status: 200, body: answer });
  const r = await c.boughtTogether("sku 9", { k: 4, exclude: ["sku-1"], category: "Books", priceMax: 20 });
  assert.equal(r.reason, "no_co_purchases");
  http.replies.push({ status: 200, body: { ...answer, item_ids: ["a", "b"] } });
  await c.boughtTogether(["a", "b"], { k: 2 });
  assert.deepEqual(http.sent.map((s) => s.url.replace("https://api.example.com", "")), [
    "/v1/items/sku%209/bought-together?k=4&exclude=sku-1&price_max=20&category=Books",
    "/v1/items/bought-together?items=a%2Cb&k=2",
  ]);
  await assert.rejects(c.boughtTogether(["ok", "a/b"]), /items must not contain '\/'/);
  assert.equal(http.sent.length, 2);
});
