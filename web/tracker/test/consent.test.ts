import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStorage, rig } from "./helpers";

const PRODUCT = '<a id="link" href="/p/sku-2" data-item-id="sku-2">next</a>';
const META = { html: PRODUCT, url: "https://shop.example/p/sku-9" };

test("consent: with requireConsent nothing is tracked, stored, queued or sent before consent(true)", async () => {
  const storage = new MemoryStorage();
  const r = rig({ requireConsent: true, pageItemId: () => "sku-9" }, { ...META, storage });
  assert.equal(r.tracker.consentState, "pending");
  assert.equal(r.tracker.track("click", "sku-1"), false);
  assert.equal(r.tracker.addToCart("sku-1"), false);
  assert.equal(r.tracker.identify("u42"), true); // remembered in memory, nothing stored
  (r.document.getElementById("link") as HTMLElement).click();
  r.window.history.pushState({}, "", "/p/sku-3");
  r.window.dispatchEvent(new r.window.Event("scroll"));
  r.setVisibility("hidden");
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  r.setVisibility("visible");
  await r.clock.advance(120_000);
  assert.equal(r.http.sent.length, 0);
  assert.equal(r.beacon.calls.length, 0);
  assert.deepEqual(storage.keys(), [], "not even an anonymous id or a cookie");
  assert.equal(r.document.cookie, "");
  assert.equal(r.tracker.pending().length, 0);
  assert.equal(r.tracker.anonymousId, undefined);

  r.tracker.consent(true);
  assert.equal(r.tracker.consentState, "granted");
  await r.clock.advance(1000);
  const events = r.http.events();
  assert.deepEqual(events.map((e) => [e.type, e.item_id, e.user_id]), [["view", "sku-9", "u42"]]);
  assert.equal(storage.getItem("graphrec.consent"), "granted");
  assert.equal(storage.getItem("graphrec.user_id"), "u42");
  assert.equal(r.http.sent.filter((s) => s.url.endsWith("/v1/identify")).length, 0, "no anonymous history, no merge");
  await r.close();

  const again = rig({ requireConsent: true }, { storage });
  assert.equal(again.tracker.consentState, "granted", "the answer is remembered");
  await again.close();
});

test("consent: optOut clears the queue, stops tracking, forgets ids and tells the server", async () => {
  const storage = new MemoryStorage();
  const r = rig({ pageItemId: () => "sku-9", activity: false, scroll: false }, { ...META, storage });
  r.http.replies.push("network");
  r.tracker.track("click", "sku-1");
  await r.clock.advance(1000);
  const anon = r.tracker.anonymousId!;
  assert.ok(r.tracker.pending().length >= 2);

  const attempts = r.http.sent.length; // the failed attempt
  r.tracker.optOut();
  assert.equal(r.tracker.consentState, "denied");
  assert.deepEqual(r.tracker.pending().map((op) => op.t), ["consent"], "queued events are gone");
  assert.equal(r.tracker.anonymousId, undefined);
  assert.equal(storage.getItem("graphrec.anonymous_id"), null);
  assert.equal(storage.getItem("graphrec.session"), null);
  assert.equal(storage.getItem("graphrec.consent"), "denied");
  assert.equal(r.tracker.track("click", "sku-1"), false);
  (r.document.getElementById("link") as HTMLElement).click();
  r.window.history.pushState({}, "", "/p/sku-3");

  await r.clock.advance(60_000); // backoff from the failed send, then the notice goes
  const notices = r.http.sent.filter((s) => s.url === "https://api.example.com/v1/consent");
  assert.equal(notices.length, 1);
  assert.deepEqual(notices[0]!.body, { anonymous_id: anon, consent: false });
  assert.equal(notices[0]!.headers["X-API-Key"], "pk_test_1");
  assert.equal(r.http.sent.slice(attempts).filter((s) => s.url.endsWith("/v1/events")).length, 0, "the queued events are never retried");
  assert.equal(r.tracker.pending().length, 0);
  await r.close();

  const next = rig({}, { storage });
  assert.equal(next.tracker.consentState, "denied", "an opt-out outlives the page");
  assert.equal(next.tracker.track("click", "sku-1"), false);
  await next.clock.advance(10_000);
  assert.equal(next.http.sent.length, 0);
  await next.close();
});

test("consent: an opt-out notice that could not be sent is retried on the next page", async () => {
  const storage = new MemoryStorage();
  const r = rig({ pageViews: false, activity: false, scroll: false }, { storage });
  r.tracker.identify("u7");
  r.http.replies.push("network");
  r.tracker.optOut();
  await r.clock.advance(0);
  assert.equal(r.http.sent.length, 1);
  await r.close();
  const next = rig({}, { storage, clock: r.clock });
  await next.clock.advance(60_000);
  assert.deepEqual(next.http.sent.map((s) => [s.url, s.body]), [["https://api.example.com/v1/consent", { user_id: "u7", consent: false }]]);
  await next.close();
});

test("identify: events switch to user_id and the merge is asked after the anonymous events", async () => {
  const r = rig({ pageViews: false, activity: false, scroll: false });
  r.tracker.track("click", "sku-1");
  const anon = r.tracker.anonymousId!;
  assert.ok(r.tracker.identify("u42"));
  r.tracker.addToCart("sku-1");
  await r.clock.advance(5000);
  assert.deepEqual(r.http.sent.map((s) => s.url.replace("https://api.example.com", "")), ["/v1/events", "/v1/identify", "/v1/events"]);
  assert.deepEqual(r.http.sent[0]!.body.events.map((e: { anonymous_id?: string }) => e.anonymous_id), [anon]);
  assert.deepEqual(r.http.sent[1]!.body, { anonymous_id: anon, user_id: "u42" });
  const after = r.http.sent[2]!.body.events[0];
  assert.equal(after.user_id, "u42");
  assert.equal(after.anonymous_id, undefined);
  assert.ok(r.tracker.identify("u42"), "same user again: nothing new");
  assert.equal(r.tracker.pending().length, 0);

  assert.equal(r.tracker.identify("anon:x"), false);
  assert.equal(r.tracker.identify("a/b"), false);
  assert.equal(r.tracker.userId, "u42");

  r.tracker.reset();
  assert.equal(r.tracker.userId, undefined);
  r.tracker.track("click", "sku-1");
  assert.notEqual(r.tracker.anonymousId, anon, "logout starts a new visitor");
  await r.close();
});

test("identify: a user given at creation is used from the first event", async () => {
  const r = rig({ userId: "u1", pageItemId: () => "sku-9", activity: false, scroll: false });
  await r.clock.advance(1000);
  assert.deepEqual(r.http.events().map((e) => [e.type, e.user_id, e.anonymous_id]), [["view", "u1", undefined]]);
  await r.close();
});

const QUIET = { pageViews: false, activity: false, scroll: false } as const;
const item = (id: string) => ({ item_id: id, title: null, score: 1, source: "popular" });
const POPULAR = { status: 200, body: { category: null, data: [item("sku-5"), item("sku-6")], count: 2, built_ms: 1, next_cursor: "c1" } };
const PERSONAL = { status: 200, body: { user_id: "x", model_version: "v1", degraded: false, cold_start: false, personalised_from: "model", recommendation_id: "r1", data: [item("sku-7")], count: 1 } };
const path = (r: ReturnType<typeof rig>) => r.http.sent.at(-1)!.url.replace("https://api.example.com", "");

test("consent purposes: analytics without personalisation tracks, and every list is the trending one, naming no one", async () => {
  const storage = new MemoryStorage();
  const r = rig({ ...QUIET, requireConsent: true }, { storage });
  assert.deepEqual(r.tracker.purposes, { analytics: false, personalisation: false });
  r.tracker.consent({ analytics: true, personalisation: false });
  assert.equal(r.tracker.consentState, "granted");
  assert.deepEqual(r.tracker.purposes, { analytics: true, personalisation: false });
  assert.equal(storage.getItem("graphrec.consent"), "analytics");
  const aid = r.tracker.anonymousId!;
  assert.match(aid, /^a-/, "events need their visitor");
  assert.ok(r.tracker.track("click", "sku-1"));
  r.http.replies.push(POPULAR);
  const list = await r.tracker.recommendations({ k: 2, excludeSeen: false });
  assert.equal(path(r), "/v1/items/popular?k=2");
  assert.deepEqual([list.personalised_from, list.recommendation_id, list.cold_start, list.next_cursor], ["none", null, true, "c1"]);
  assert.deepEqual(list.data.map((d) => d.item_id), ["sku-5", "sku-6"]);
  r.tracker.identify("u42");
  r.http.replies.push(POPULAR);
  await r.tracker.recommendations("u42");
  assert.equal(path(r), "/v1/items/popular?k=10", "a signed-in user's list is personal only with personalisation");
  assert.ok(r.http.sent.every((s) => !s.url.includes(aid) && !s.url.includes("u42")));
  await r.clock.advance(1000);
  assert.deepEqual(r.http.events().map((e) => [e.type, e.anonymous_id]), [["click", aid]]);
  await r.close();
  const next = rig({ requireConsent: true }, { storage });
  assert.deepEqual(next.tracker.purposes, { analytics: true, personalisation: false }, "the answer is remembered");
  await next.close();
});

test("consent purposes: personalisation without analytics stores and tracks nothing; a signed-in user's lists stay personal", async () => {
  const storage = new MemoryStorage();
  const r = rig({ requireConsent: true, pageItemId: () => "sku-9" }, { storage });
  r.tracker.identify("u42"); // before the answer: this page only
  r.tracker.consent({ analytics: false, personalisation: true });
  assert.equal(r.tracker.consentState, "denied");
  assert.deepEqual(r.tracker.purposes, { analytics: false, personalisation: true });
  assert.deepEqual(storage.keys().filter((k) => k !== "graphrec.queue"), ["graphrec.consent"]);
  assert.equal(storage.getItem("graphrec.consent"), "personalisation");
  assert.equal(r.tracker.anonymousId, undefined, "no visitor id without analytics");
  assert.equal(r.tracker.track("click", "sku-1"), false);
  assert.equal(r.tracker.track("wishlist_add", { itemId: "sku-1" }), false);
  assert.equal(r.tracker.purchase("sku-1", { price: 5, currency: "EUR" }), false);
  assert.equal(r.tracker.impressions("r1", ["sku-1"]), false);
  await r.clock.advance(0); // the opt-out notice goes
  r.http.replies.push(PERSONAL);
  const list = await r.tracker.recommendations({ k: 3 });
  assert.equal(path(r), "/v1/users/u42/recommendations?k=3");
  assert.equal(list.recommendation_id, "r1");
  await r.clock.advance(60_000);
  assert.deepEqual(r.http.events(), [], "no event, not even the page view");
  assert.deepEqual(r.http.sent.filter((s) => s.method === "POST").map((s) => [s.url, s.body]), [
    ["https://api.example.com/v1/consent", { user_id: "u42", consent: false }],
  ], "the server is told the user declined analytics");
  r.tracker.reset(); // logout: no one left to personalise for
  r.http.replies.push(POPULAR);
  await r.tracker.recommendations();
  assert.equal(path(r), "/v1/items/popular?k=10");
  await r.close();
  const next = rig({ requireConsent: true }, { storage });
  assert.deepEqual(next.tracker.purposes, { analytics: false, personalisation: true });
  assert.equal(next.tracker.userId, undefined, "the user id was never stored");
  await next.close();
});

test("consent purposes: granting personalisation later makes the lists personal; withdrawing analytics then stops tracking", async () => {
  const storage = new MemoryStorage();
  const r = rig({ ...QUIET, requireConsent: true }, { storage });
  r.tracker.consent({ analytics: true }); // personalisation left out: not granted
  assert.deepEqual(r.tracker.purposes, { analytics: true, personalisation: false });
  const aid = r.tracker.anonymousId!;
  r.tracker.consent(true);
  assert.deepEqual(r.tracker.purposes, { analytics: true, personalisation: true });
  assert.equal(storage.getItem("graphrec.consent"), "granted");
  assert.equal(r.tracker.anonymousId, aid, "the same visitor");
  r.http.replies.push(PERSONAL);
  await r.tracker.recommendations({ k: 1 });
  assert.equal(path(r), `/v1/anonymous/${aid}/recommendations?k=1`);
  r.tracker.track("click", "sku-1");
  r.tracker.consent({ analytics: false, personalisation: true });
  assert.equal(r.tracker.consentState, "denied");
  assert.deepEqual(r.tracker.pending().map((op) => op.t), ["consent"], "the queued click is gone");
  assert.equal(r.tracker.anonymousId, undefined);
  await r.clock.advance(0);
  r.http.replies.push(POPULAR);
  await r.tracker.recommendations();
  assert.equal(path(r), "/v1/items/popular?k=10", "an anonymous visitor without analytics has no list of their own");
  assert.deepEqual(r.http.sent.find((s) => s.url.endsWith("/v1/consent"))!.body, { anonymous_id: aid, consent: false });
  r.tracker.consent(false);
  assert.deepEqual(r.tracker.purposes, { analytics: false, personalisation: false });
  assert.equal(storage.getItem("graphrec.consent"), "denied");
  await r.close();
});
