import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeIO, rig } from "./helpers";
import type { Rig } from "./helpers";
import type { WireEvent } from "../src/index";

const META = '<meta name="graphrec:item-id" content="sku-9">';
const activity = { minimumVisitLength: 5, heartbeatDelay: 10, idleTimeout: 30 };
/** Events of a type, sent (fetch or beacon) or still queued, in time order. */
const sent = (r: Rig, type: string): WireEvent[] => {
  const queued = r.tracker.pending().flatMap((op) => (op.t === "e" ? [op.e] : []));
  const all = new Map([...r.http.events(), ...r.beacon.events(), ...queued].map((e) => [e.event_id, e]));
  return [...all.values()].filter((e) => e.type === type).sort((a, b) => a.timestamp - b.timestamp);
};
const input = (r: Rig, type = "mousemove"): void => void r.window.dispatchEvent(new r.window.Event(type));

test("dwell: counts visible, active time only, reported per heartbeat as the time since the last report", async () => {
  const r = rig({ activity, scroll: false }, { html: META });
  const at = (): number => (r.clock.now() - start) / 1000;
  const start = r.clock.now();
  const reports: [number, number][] = [];
  const seen = (): void => {
    for (const e of sent(r, "dwell").slice(reports.length)) reports.push([(e.timestamp - start) / 1000, e.value!]);
  };
  await r.clock.advance(5000); // minimumVisitLength reached: first heartbeat
  await r.clock.advance(40_000); // no input: the clock stops 30 s after the last input (t = 30)
  seen();
  assert.deepEqual(reports, [[5, 5], [15, 10], [25, 10], [35, 5]]);
  await r.clock.advance(5000);
  input(r); // t = 50: active again, the idle gap 30..50 does not count
  await r.clock.advance(2000);
  r.setVisibility("hidden"); // t = 52: the period's 2 s are reported (and beaconed)
  await r.clock.advance(100_000); // hidden: nothing counts
  r.setVisibility("visible"); // t = 152: coming back counts as activity
  await r.clock.advance(10_000);
  seen();
  assert.deepEqual(reports, [[5, 5], [15, 10], [25, 10], [35, 5], [52, 2], [162, 10]]);
  assert.equal(at(), 162);
  assert.equal(reports.reduce((s, [, v]) => s + v, 0), 42, "42 s of 162 s on the page were visible and active");
  assert.ok(sent(r, "dwell").every((e) => e.item_id === "sku-9"));
  await r.close();
});

test("dwell: continuous input keeps the clock running; a visit shorter than minimumVisitLength reports none", async () => {
  const r = rig({ activity, scroll: false }, { html: META });
  await r.clock.advance(3000);
  r.setVisibility("hidden"); // a 3 s bounce
  await r.clock.advance(60_000);
  assert.equal(sent(r, "dwell").length, 0);
  r.setVisibility("visible");
  for (let i = 0; i < 12; i++) {
    await r.clock.advance(5000);
    input(r, i % 2 ? "keydown" : "scroll");
  }
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  const total = sent(r, "dwell").reduce((s, e) => s + e.value!, 0);
  assert.equal(total, 63, "3 s before the bounce + 60 s of input");
  await r.close();
});

test("dwell: elements option counts items in view (at the visible fraction), per item", async () => {
  const r = rig({ activity: { ...activity, elements: 0.5 }, scroll: false, pageViews: false }, { html: '<div id="c1" data-item-id="sku-1"></div><div id="c2" data-item-id="sku-2"></div>' });
  await r.clock.advance(0); // rescan after the page start
  const io = FakeIO.all.at(-1)!;
  const c1 = r.document.getElementById("c1")!;
  const c2 = r.document.getElementById("c2")!;
  io.fire(c1, 100, 200); // fully visible
  io.fire(c2, 668, 400); // 25 % visible: below 0.5
  await r.clock.advance(5000);
  io.fire(c1, -300, 400); // 25 % visible now
  io.fire(c2, 200, 400); // 100 %
  await r.clock.advance(10_000);
  const by = (id: string) => sent(r, "dwell").filter((e) => e.item_id === id).map((e) => e.value);
  assert.deepEqual(by("sku-1"), [5]);
  assert.deepEqual(by("sku-2"), [10]);
  await r.close();
});

test("scroll: the maximum depth per item per period, reported only when deeper than before", async () => {
  const r = rig({ activity: false, scroll: { minDepth: 0.25 }, pageViews: false }, { html: '<div id="c1" data-item-id="sku-1" data-page-section="grid"></div><div id="c2" data-item-id="sku-2"></div>' });
  await r.clock.advance(0);
  const io = FakeIO.all.at(-1)!;
  const c1 = r.document.getElementById("c1")!;
  const c2 = r.document.getElementById("c2")!;
  io.fire(c1, 500, 400); // (768 - 500) / 400 = 0.67 of it seen
  io.fire(c2, 700, 400); // 0.17: under minDepth
  await r.clock.advance(10_000);
  assert.equal(sent(r, "scroll").length, 0, "no scroll event while the user has not scrolled");
  input(r, "scroll");
  io.fire(c1, 368, 400); // deeper within the same period: 1.0
  io.fire(c1, 600, 400); // and back up
  await r.clock.advance(10_000);
  assert.deepEqual(sent(r, "scroll").map((e) => [e.item_id, e.value, e.context?.page_section]), [["sku-1", 1, "grid"]]);
  io.fire(c2, 568, 400); // 0.5
  await r.clock.advance(10_000);
  io.fire(c1, 100, 400); // 1.0 again: not deeper than reported
  io.fire(c2, 668, 400); // 0.25 < 0.5 already reported
  await r.clock.advance(10_000);
  assert.deepEqual(sent(r, "scroll").map((e) => [e.item_id, e.value]), [["sku-1", 1], ["sku-2", 0.5]]);
  await r.close();
});

test("scroll: elements measured on (passive) scroll, and the page item's depth from the document", async () => {
  const r = rig({ activity: false, scroll: true }, { html: `${META}<div id="c1" data-item-id="sku-1"></div>` });
  await r.clock.advance(0);
  const io = FakeIO.all.at(-1)!;
  const c1 = r.document.getElementById("c1")!;
  io.fire(c1, 700, 1000); // a tall element, 7 % in view
  c1.getBoundingClientRect = () => ({ top: -132, height: 1000, bottom: 868, left: 0, right: 0, width: 0, x: 0, y: -132, toJSON() {} });
  Object.defineProperty(r.document.documentElement, "scrollHeight", { configurable: true, value: 2000 });
  Object.defineProperty(r.window, "scrollY", { configurable: true, value: 1000 });
  input(r, "scroll");
  await r.clock.advance(10_000);
  assert.deepEqual(sent(r, "scroll").map((e) => [e.item_id, e.value]).sort(), [["sku-1", 0.9], ["sku-9", 0.88]]);
  await r.close();
});
