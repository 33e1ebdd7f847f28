import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStorage, rig } from "./helpers";

const quiet = { pageViews: false, activity: false, scroll: false, clicks: false, spa: false } as const;

test("beacon: pagehide hands queued events to sendBeacon, key in the URL, text/plain JSON body", async () => {
  const storage = new MemoryStorage();
  const r = rig({ ...quiet }, { storage });
  r.tracker.track("click", "sku-1");
  r.tracker.addToCart("sku-1");
  const queued = r.tracker.pending();
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  assert.equal(r.beacon.calls.length, 1);
  const call = r.beacon.calls[0]!;
  assert.equal(call.url, "https://api.example.com/v1/events?key=pk_test_1");
  assert.equal(typeof call.body, "string", "a string body: the browser sends it as text/plain;charset=UTF-8 (no preflight)");
  const body = JSON.parse(call.body as string);
  assert.deepEqual(Object.keys(body), ["events"]);
  assert.deepEqual(body.events, queued.map((op) => (op as { e: unknown }).e));
  assert.equal(r.tracker.pending().length, 0, "handed over: not sent again");
  await r.clock.advance(10_000);
  assert.equal(r.http.sent.length, 0);
  await r.close();
});

test("beacon: visibilitychange to hidden also beacons; a refused beacon keeps the events for fetch", async () => {
  const r = rig({ ...quiet });
  r.tracker.track("click", "sku-1");
  r.beacon.accept = false;
  r.setVisibility("hidden");
  assert.equal(r.beacon.calls.length, 1);
  assert.equal(r.tracker.pending().length, 1);
  r.setVisibility("visible");
  r.beacon.accept = true;
  r.tracker.track("click", "sku-2");
  r.setVisibility("hidden");
  assert.equal(r.beacon.calls.length, 2);
  assert.deepEqual(r.beacon.events().map((e) => e.item_id), ["sku-1", "sku-1", "sku-2"]);
  assert.equal(r.tracker.pending().length, 0);
  await r.close();
});

test("beacon: not while the server asked to wait (Retry-After): the events stay queued", async () => {
  const r = rig({ ...quiet });
  r.http.replies.push({ status: 503, headers: { "Retry-After": "30" } });
  r.tracker.track("click", "sku-1");
  await r.clock.advance(1000);
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  assert.equal(r.beacon.calls.length, 0);
  assert.equal(r.tracker.pending().length, 1);
  await r.close();
});

test("beacon: stops at an identify call so that the merge comes after the anonymous events", async () => {
  const r = rig({ ...quiet });
  r.tracker.track("click", "sku-1");
  r.tracker.identify("u1");
  r.tracker.track("click", "sku-2");
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  assert.deepEqual(r.beacon.events().map((e) => e.item_id), ["sku-1"]);
  assert.deepEqual(r.tracker.pending().map((op) => op.t), ["identify", "e"]);
  await r.close();
});

test("beacon: large queues are split under the 64 KiB beacon budget", async () => {
  const r = rig({ ...quiet, batchSize: 1000, maxQueue: 5000 });
  r.http.replies.push("network");
  const long = "x".repeat(200);
  for (let i = 0; i < 400; i++) r.tracker.track("click", `${long}-${i}`);
  await r.clock.advance(0);
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  assert.ok(r.beacon.calls.length >= 2);
  for (const c of r.beacon.calls) assert.ok(Buffer.byteLength(c.body as string) < 64 * 1024);
  assert.equal(r.beacon.events().length, 400);
  await r.close();
});

test("beacon: a keepalive request in flight at pagehide is handed over too: nothing stays queued, nothing goes twice", async () => {
  const r = rig({ ...quiet });
  const release = r.http.hold();
  r.tracker.track("click", "sku-1");
  await r.clock.advance(10_000); // the flush: sku-1 in flight, unanswered
  assert.equal(r.http.sent.length, 1);
  assert.equal(r.http.sent[0]!.keepalive, true);
  r.tracker.addToCart("sku-2");
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  assert.deepEqual(r.beacon.events().map((e) => e.item_id), ["sku-2"], "the request in flight is not beaconed again");
  assert.equal(r.tracker.pending().length, 0, "the browser delivers the keepalive request after the page is gone");
  await release();
  await r.clock.advance(60_000);
  assert.deepEqual(r.http.events().map((e) => e.item_id), ["sku-1"]);
  assert.equal(r.tracker.pending().length, 0);
  await r.close();
});

test("beacon: a handed-over request that fails while the page lives on puts its events back, in order", async () => {
  const r = rig({ ...quiet });
  const release = r.http.hold();
  r.tracker.track("click", "sku-1");
  await r.clock.advance(10_000);
  r.tracker.track("click", "sku-2");
  r.beacon.accept = false; // the beacon refuses: sku-2 stays queued
  r.setVisibility("hidden"); // a hidden tab, not a closed page
  assert.deepEqual(r.tracker.pending().map((op) => (op as { e: { item_id: string } }).e.item_id), ["sku-2"]);
  r.http.replies.push("network");
  await release();
  assert.deepEqual(r.tracker.pending().map((op) => (op as { e: { item_id: string } }).e.item_id), ["sku-1", "sku-2"]);
  r.setVisibility("visible");
  await r.clock.advance(60_000); // the backoff, then the retry: without keepalive, both in order
  assert.deepEqual(r.http.events().map((e) => e.item_id), ["sku-1", "sku-1", "sku-2"]);
  assert.equal(r.tracker.pending().length, 0);
  await r.close();
});
