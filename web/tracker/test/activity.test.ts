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
  const c1 = r.document.getElementById("c1")!;
  const c2 = r.document.getElementById("c2")!;
  const io = FakeIO.of(c1);
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

/** Sets the document's height and scroll position (happy-dom lays nothing out). */
const page = (r: Rig, height: number, scrollY: number): void => {
  Object.defineProperty(r.document.documentElement, "scrollHeight", { configurable: true, value: height });
  Object.defineProperty(r.window, "scrollY", { configurable: true, value: scrollY });
};

test("scroll: the page's depth for the page's item, per period, only when deeper than reported before", async () => {
  const r = rig({ activity: false, scroll: { minDepth: 0.25 } }, { html: META });
  page(r, 4000, 0); // 768 / 4000 = 0.19 seen without scrolling
  await r.clock.advance(10_000);
  assert.equal(sent(r, "scroll").length, 0, "no scroll event while the visitor has not scrolled");
  page(r, 4000, 1232); // (1232 + 768) / 4000 = 0.5
  input(r, "scroll");
  await r.clock.advance(300);
  page(r, 4000, 200); // and back up: the period's maximum counts
  input(r, "scroll");
  await r.clock.advance(10_000);
  assert.deepEqual(sent(r, "scroll").map((e) => [e.item_id, e.value, e.context?.page_section]), [["sku-9", 0.5, undefined]]);
  input(r, "scroll"); // 0.24 now: not deeper than reported
  await r.clock.advance(10_000);
  page(r, 4000, 3232); // the bottom
  input(r, "scroll");
  await r.clock.advance(10_000);
  assert.deepEqual(sent(r, "scroll").map((e) => [e.item_id, e.value]), [["sku-9", 0.5], ["sku-9", 1]]);
  await r.close();
});

test("scroll: an item element scrolled into view or past is no interaction; a page about no item sends none", async () => {
  const html = '<div id="c1" data-item-id="sku-1" data-page-section="grid"></div><div id="c2" data-item-id="sku-2"></div>';
  const r = rig({ activity: { ...activity, elements: false }, scroll: { minDepth: 0.25 } }, { html, url: "https://shop.example/category/books" });
  page(r, 3000, 0);
  await r.clock.advance(0);
  for (const io of FakeIO.all) for (const el of io.targets) io.fire(el, 500, 400); // nobody watches them, but if anyone did
  for (let y = 0; y <= 2232; y += 400) {
    page(r, 3000, y);
    input(r, "scroll");
    await r.clock.advance(1000);
  }
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  assert.deepEqual(sent(r, "scroll"), [], "scrolled past: no scroll event");
  assert.deepEqual(r.http.events().concat(r.beacon.events()), [], "no event at all: the page is about no item");
  await r.close();
});
