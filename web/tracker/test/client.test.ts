import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient, GraphrecError } from "../src/index";
import { FakeFetch, rig } from "./helpers";

const item = (id: string) => ({ item_id: id, title: null, score: 1, source: "graph" });
const recs = (ids: string[]) => ({ user_id: "u42", model_version: "v1", degraded: false, cold_start: false, personalised_from: "model", data: ids.map(item), count: ids.length });

test("client: recommendations builds the URL, sends the key, filters `exclude` after asking for more", async () => {
  const http = new FakeFetch();
  const c = createClient({ endpoint: "https://api.example.com/", key: "pk_test_1", fetch: http.fetch as typeof fetch });
  http.replies.push({ status: 200, body: recs(["sku-1", "sku-2", "sku-3", "sku-4"]) });
  const r = await c.recommendations("u 42", { k: 3, exclude: ["sku-2"], explain: true, excludeSeen: false });
  assert.equal(http.sent[0]!.url, "https://api.example.com/v1/users/u%2042/recommendations?k=4&explain=true&exclude_seen=false");
  assert.equal(http.sent[0]!.method, "GET");
  assert.equal(http.sent[0]!.headers["X-API-Key"], "pk_test_1");
  assert.deepEqual(r.data.map((d) => d.item_id), ["sku-1", "sku-3", "sku-4"]);
  assert.equal(r.count, 3);

  http.replies.push({ status: 200, body: { item_id: "sku-9", model_version: null, degraded: true, data: [], count: 0 } });
  await c.similar("sku-9", { k: 5 });
  http.replies.push({ status: 200, body: { category: "books", data: [], count: 0, built_ms: 1 } });
  await c.popular({ category: "books & more", k: 3 });
  http.replies.push({ status: 200, body: { loaded: false } });
  await c.model();
  assert.deepEqual(http.sent.slice(1).map((s) => s.url.replace("https://api.example.com", "")), [
    "/v1/items/sku-9/similar?k=5", "/v1/items/popular?k=3&category=books%20%26%20more", "/v1/model",
  ]);
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

test("tracker: recommendations() defaults to the current user, else the anonymous visitor", async () => {
  const r = rig({ pageViews: false, activity: false, scroll: false, requireConsent: true });
  await assert.rejects(r.tracker.recommendations(), /no user or visitor/);
  r.tracker.consent(true);
  r.tracker.track("click", "sku-1");
  r.http.replies.push({ status: 200, body: recs([]) });
  await r.tracker.recommendations(undefined, { k: 2 });
  assert.equal(r.http.sent.at(-1)!.url, `https://api.example.com/v1/anonymous/${r.tracker.anonymousId}/recommendations?k=2`);
  r.tracker.identify("u42");
  r.http.replies.push({ status: 200, body: recs([]) });
  await r.tracker.recommendations();
  assert.equal(r.http.sent.at(-1)!.url, "https://api.example.com/v1/users/u42/recommendations?k=10");
  await r.close();
});
