import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryStorage, rig } from "./helpers";
import type { WireEvent } from "../src/index";

const quiet = { pageViews: false, activity: false, scroll: false, clicks: false, spa: false } as const;
const ids = (events: WireEvent[]): string[] => events.map((e) => e.event_id);

test("batching: events wait for the debounce, then go in one request with the key header", async () => {
  const r = rig({ ...quiet, debounce: 1000, flushInterval: 5000 });
  for (const id of ["sku-1", "sku-2", "sku-3"]) assert.ok(r.tracker.track("click", id));
  await r.clock.advance(999);
  assert.equal(r.http.sent.length, 0);
  await r.clock.advance(1);
  assert.equal(r.http.sent.length, 1);
  const req = r.http.sent[0]!;
  assert.equal(req.url, "https://api.example.com/v1/events");
  assert.equal(req.method, "POST");
  assert.equal(req.headers["Content-Type"], "application/json");
  assert.equal(req.headers["X-API-Key"], "pk_test_1");
  assert.equal(req.keepalive, true);
  assert.deepEqual(req.body.events.map((e: WireEvent) => e.item_id), ["sku-1", "sku-2", "sku-3"]);
  const e = req.body.events[0] as WireEvent;
  assert.match(e.anonymous_id!, /^a-[0-9a-f-]{36}$/);
  assert.equal(e.user_id, undefined);
  assert.equal(e.timestamp, r.clock.now() - 1000);
  assert.match(e.context!.session_id!, /^s-/);
  assert.deepEqual(e.context!.viewport, { width: 1024, height: 768 });
  assert.equal(new Set(ids(req.body.events)).size, 3, "distinct event ids");
  assert.equal(r.tracker.pending().length, 0, "acknowledged events leave the queue");
  await r.close();
});

test("batching: a full batch goes at once; continuous events still flush by flushInterval", async () => {
  const r = rig({ ...quiet, batchSize: 5, debounce: 1000, flushInterval: 2000 });
  for (let i = 0; i < 5; i++) r.tracker.track("click", `sku-${i}`);
  await r.clock.advance(0);
  assert.equal(r.http.sent.length, 1);
  assert.equal(r.http.sent[0]!.body.events.length, 5);
  // an event every 500 ms never leaves a 1 s quiet gap: the 2 s cap sends them anyway
  const start = r.clock.now();
  for (let i = 0; i < 4; i++) {
    r.tracker.track("click", `sku-x${i}`);
    await r.clock.advance(500);
  }
  assert.equal(r.http.sent.length, 2);
  assert.equal(r.http.sent[1]!.body.events.length, 4);
  assert.equal(r.clock.now() - start, 2000);
  await r.close();
});

test("batching: once the queue is sent, the next event waits for the debounce again", async () => {
  const r = rig({ ...quiet, debounce: 1000, flushInterval: 5000 });
  r.tracker.track("click", "sku-1");
  await r.clock.advance(1000);
  assert.equal(r.http.sent.length, 1);
  await r.clock.advance(10_000); // long past the first event's flushInterval
  r.tracker.track("click", "sku-2");
  await r.clock.advance(999);
  assert.equal(r.http.sent.length, 1, "debounced, not sent at once");
  r.tracker.track("click", "sku-3");
  await r.clock.advance(1000);
  assert.equal(r.http.sent.length, 2);
  assert.deepEqual(r.http.sent[1]!.body.events.map((e: WireEvent) => e.item_id), ["sku-2", "sku-3"]);
  await r.close();
});

test("batching: more than batchSize queued events go in several requests, in order", async () => {
  const r = rig({ ...quiet, batchSize: 4 });
  r.http.replies.push("network");
  for (let i = 0; i < 10; i++) r.tracker.track("click", `sku-${i}`);
  await r.clock.advance(0); // first batch fails: all 10 stay queued
  assert.equal(r.tracker.pending().length, 10);
  await r.clock.advance(60_000);
  const sizes = r.http.sent.slice(1).map((s) => s.body.events.length);
  assert.deepEqual(sizes, [4, 4, 2]);
  assert.deepEqual(r.http.events().slice(4).map((e) => e.item_id), Array.from({ length: 10 }, (_, i) => `sku-${i}`));
  await r.close();
});

test("retry: 503 with Retry-After waits that long and resends the SAME event ids", async () => {
  const r = rig({ ...quiet });
  r.http.replies.push({ status: 503, headers: { "Retry-After": "7" }, body: { detail: "store down" } });
  r.tracker.track("click", "sku-1");
  r.tracker.track("add_to_cart", "sku-1");
  await r.clock.advance(1000);
  assert.equal(r.http.sent.length, 1);
  const first = ids(r.http.sent[0]!.body.events);
  await r.clock.advance(6999);
  assert.equal(r.http.sent.length, 1, "nothing before Retry-After");
  await r.clock.advance(1);
  assert.equal(r.http.sent.length, 2);
  assert.deepEqual(ids(r.http.sent[1]!.body.events), first);
  assert.equal(r.http.sent[1]!.raw, r.http.sent[0]!.raw, "byte-identical retry");
  assert.equal(r.tracker.pending().length, 0);
  await r.close();
});

test("retry: 429 with an HTTP-date Retry-After is honoured; new events wait too", async () => {
  const r = rig({ ...quiet });
  const at = new Date(r.clock.now() + 1000 + 20_000).toUTCString();
  r.http.replies.push({ status: 429, headers: { "Retry-After": at } });
  r.tracker.track("click", "sku-1");
  await r.clock.advance(1000);
  r.tracker.track("click", "sku-2");
  await r.clock.advance(19_000);
  assert.equal(r.http.sent.length, 1);
  await r.clock.advance(1000);
  assert.equal(r.http.sent.length, 2);
  assert.deepEqual(r.http.sent[1]!.body.events.map((e: WireEvent) => e.item_id), ["sku-1", "sku-2"]);
  await r.close();
});

test("retry: network errors back off exponentially (1 s, 2 s, 4 s ... with jitter 0.5-1)", async () => {
  const r = rig({ ...quiet });
  r.http.replies.push("network", "network", "network");
  r.tracker.track("click", "sku-1");
  await r.clock.advance(1000);
  const times: number[] = [r.clock.now()];
  for (let i = 0; i < 60 && r.http.sent.length < 4; i++) {
    const before = r.http.sent.length;
    await r.clock.advance(250);
    if (r.http.sent.length > before) times.push(r.clock.now());
  }
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert.deepEqual(gaps, [750, 1500, 3000]); // random() = 0.5 in the rig: 0.75 x 1 s, 2 s, 4 s
  assert.equal(new Set(r.http.sent.map((s) => s.raw)).size, 1, "every retry is the same batch");
  assert.deepEqual(r.http.sent.map((s) => s.keepalive), [true, false, false, false], "retries without keepalive (old Chromium refuses it with a preflight)");
  await r.close();
});

test("retry: 422 drops only the events it lists (logged), the rest are resent with their ids", async () => {
  const r = rig({ ...quiet });
  r.http.replies.push({ status: 422, body: { detail: [{ index: 1, field: "timestamp", reason: "in the future" }] } });
  r.tracker.track("click", "sku-1");
  r.tracker.track("click", "sku-2");
  r.tracker.track("click", "sku-3");
  await r.clock.advance(1000);
  assert.equal(r.http.sent.length, 2);
  const [a, b, c] = ids(r.http.sent[0]!.body.events);
  assert.deepEqual(ids(r.http.sent[1]!.body.events), [a, c]);
  assert.ok(!ids(r.http.sent[1]!.body.events).includes(b!));
  assert.ok(r.logs.some((l) => l.startsWith("error") && l.includes("422")));
  assert.equal(r.tracker.pending().length, 0);
  await r.close();
});

test("retry: 422 without indices drops the whole batch for good; 400/401 too", async () => {
  const r = rig({ ...quiet });
  r.http.replies.push({ status: 422, body: { detail: [{ index: null, field: "events", reason: "empty" }] } });
  r.tracker.track("click", "sku-1");
  await r.clock.advance(1000);
  await r.clock.advance(600_000);
  assert.equal(r.http.sent.length, 1);
  assert.equal(r.tracker.pending().length, 0);
  r.http.replies.push({ status: 401, body: { detail: "bad key" } });
  r.tracker.track("click", "sku-2");
  await r.clock.advance(600_000);
  assert.equal(r.http.sent.length, 2);
  assert.equal(r.tracker.pending().length, 0);
  await r.close();
});

test("retry: 413 halves the batch and sends it in parts", async () => {
  const r = rig({ ...quiet, batchSize: 8 });
  r.http.replies.push({ status: 413, body: { detail: "too large" } });
  for (let i = 0; i < 8; i++) r.tracker.track("click", `sku-${i}`);
  await r.clock.advance(0);
  assert.deepEqual(r.http.sent.map((s) => s.body.events.length), [8, 4, 4]);
  await r.close();
});

test("queue: survives a reload (new tracker over the same storage) and resends the same ids", async () => {
  const storage = new MemoryStorage();
  const r1 = rig({ ...quiet }, { storage });
  r1.http.replies.push("network");
  r1.tracker.track("click", "sku-1");
  r1.tracker.rate("sku-1", 4);
  await r1.clock.advance(1000);
  const sent = r1.http.sent[0]!.body.events as WireEvent[];
  const anon = r1.tracker.anonymousId;
  await r1.close();
  assert.ok(storage.getItem("graphrec.queue"));

  const r2 = rig({ ...quiet }, { storage, clock: r1.clock });
  assert.equal(r2.tracker.anonymousId, anon, "the anonymous id is persisted");
  await r2.clock.advance(60_000);
  assert.equal(r2.http.sent.length, 1);
  assert.deepEqual(r2.http.sent[0]!.body.events, sent, "same events, same ids, same timestamps");
  assert.equal(storage.getItem("graphrec.queue"), null);
  await r2.close();
});

test("queue: bounded (oldest dropped), and events older than maxAgeDays dropped at start", async () => {
  const storage = new MemoryStorage();
  const r = rig({ ...quiet, maxQueue: 5, batchSize: 100 }, { storage });
  r.http.replies.push("network");
  for (let i = 0; i < 8; i++) r.tracker.track("click", `sku-${i}`);
  assert.deepEqual(r.tracker.pending().map((op) => (op as { e: WireEvent }).e.item_id), ["sku-3", "sku-4", "sku-5", "sku-6", "sku-7"]);
  assert.ok(r.logs.some((l) => l.includes("dropped")));
  await r.close();
  r.clock.t += 8 * 86400_000;
  const r2 = rig({ ...quiet }, { storage, clock: r.clock });
  assert.equal(r2.tracker.pending().length, 0);
  await r2.close();
});

test("queue: works in memory without storage; the anonymous id then lives in a cookie", async () => {
  const r = rig({ ...quiet, env: { storage: null } });
  r.http.replies.push({ status: 503, headers: { "Retry-After": "1" } });
  r.tracker.track("click", "sku-1");
  await r.clock.advance(1000);
  await r.clock.advance(1000);
  assert.equal(r.http.sent.length, 2);
  assert.equal(r.http.sent[0]!.raw, r.http.sent[1]!.raw);
  assert.deepEqual(r.storage.keys(), [], "nothing written to the (unavailable) storage");
  assert.equal(r.document.cookie, `graphrec_aid=${r.tracker.anonymousId}`, "the anonymous id falls back to a cookie");
  r.tracker.track("click", "sku-2");
  await r.clock.advance(60 * 60_000);
  r.tracker.track("click", "sku-3");
  await r.clock.advance(1000);
  const session = new Map(r.http.events().map((e) => [e.item_id, e.context!.session_id]));
  assert.equal(session.get("sku-1"), session.get("sku-2"), "one session without storage too");
  assert.notEqual(session.get("sku-2"), session.get("sku-3"), "a new one after 30 idle minutes");
  const again = r.make();
  assert.equal(again.anonymousId, r.tracker.anonymousId, "and is read back from it");
  await r.close();
});

test("batching: sends from requestIdleCallback where the browser has it (with a timeout)", async () => {
  const idle: { timeout: number }[] = [];
  const r = rig({ ...quiet, env: { requestIdleCallback: (fn: () => void, o: { timeout: number }) => (idle.push(o), fn()) } });
  r.tracker.track("click", "sku-1");
  await r.clock.advance(1000);
  assert.deepEqual(idle, [{ timeout: 1000 }]);
  assert.equal(r.http.sent.length, 1);
  await r.close();
});
