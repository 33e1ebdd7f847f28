import assert from "node:assert/strict";
import { test } from "node:test";
import { rig } from "./helpers";

const HTML = `
<meta name="graphrec:item-id" content="sku-9">
<section data-page-section="recs">
  <a href="#" data-item-id="sku-1"><img id="img1"></a>
  <button id="cart" data-track="add_to_cart" data-item-id="sku-2">Add</button>
  <div data-item-id="sku-3"><button id="like" data-track="like">like</button><button id="plain">x</button></div>
  <button id="rate" data-track="rating" data-value="4" data-item-id="sku-4"></button>
  <button id="bad" data-track data-item-id="a/b"></button>
  <button id="bogus" data-track="bogus" data-item-id="sku-5"></button>
  <button id="orphan" data-track="click"></button>
</section>`;

test("clicks: one delegated listener tracks [data-track] elements and product links", async () => {
  const r = rig({ activity: false, scroll: false, pageViews: false }, { html: HTML });
  for (const id of ["img1", "cart", "like", "plain", "rate", "bad", "bogus", "orphan"]) (r.document.getElementById(id) as HTMLElement).click();
  await r.clock.advance(1000);
  assert.deepEqual(r.http.events().map((e) => [e.type, e.item_id, e.value, e.context?.page_section]), [
    ["click", "sku-1", undefined, "recs"],
    ["add_to_cart", "sku-2", undefined, "recs"],
    ["like", "sku-3", undefined, "recs"],
    ["rating", "sku-4", 4, "recs"],
  ]);
  assert.equal(r.logs.filter((l) => l.startsWith("warn")).length, 3, "bad id, unknown type, no item: warned, not sent");
  await r.close();
});

test("page views: on load, and on SPA route changes (pushState, popstate), not on same-URL replaceState", async () => {
  const r = rig({ activity: false, scroll: false }, { html: HTML, url: "https://shop.example/p/sku-9" });
  const meta = r.document.querySelector("meta")!;
  await r.clock.advance(0);
  meta.setAttribute("content", "sku-2");
  r.window.history.pushState({}, "", "/p/sku-2");
  await r.clock.advance(0);
  r.window.history.replaceState({ scroll: 1 }, "", "/p/sku-2");
  r.window.history.replaceState({}, "", "/p/sku-2#reviews");
  await r.clock.advance(0);
  meta.setAttribute("content", "sku-9");
  r.window.history.back();
  await new Promise((res) => setTimeout(res, 20)); // happy-dom dispatches popstate asynchronously
  await r.clock.advance(0);
  meta.removeAttribute("content");
  r.window.history.pushState({}, "", "/cart"); // a page about no item: no view
  await r.clock.advance(1000);
  assert.deepEqual(r.http.events().map((e) => [e.type, e.item_id]), [["view", "sku-9"], ["view", "sku-2"], ["view", "sku-9"]]);
  await r.close();
});

test("page views: a route change first reports the rest of the previous page's dwell", async () => {
  const r = rig({ activity: { minimumVisitLength: 5, heartbeatDelay: 60 }, scroll: false }, { html: HTML });
  await r.clock.advance(7000);
  r.document.querySelector("meta")!.setAttribute("content", "sku-2");
  r.window.history.pushState({}, "", "/p/sku-2");
  await r.clock.advance(1000);
  assert.deepEqual(r.http.events().map((e) => [e.type, e.item_id, e.value]), [
    ["view", "sku-9", undefined], ["dwell", "sku-9", 5], ["dwell", "sku-9", 2], ["view", "sku-2", undefined],
  ]);
  await r.close();
});

test("destroy restores history and removes listeners", async () => {
  const r = rig({ activity: false, scroll: false }, { html: HTML });
  const wrapped = r.window.history.pushState;
  r.tracker.destroy();
  assert.notEqual(r.window.history.pushState, wrapped);
  r.window.history.pushState({}, "", "/p/other");
  (r.document.getElementById("img1") as HTMLElement).click();
  await r.clock.advance(10_000);
  assert.equal(r.http.events().filter((e) => e.item_id !== "sku-9").length, 0);
  await r.close();
});

test("helpers: addToCart, purchase (ids or items), rate, track validate before queueing", async () => {
  const r = rig({ activity: false, scroll: false, pageViews: false });
  assert.ok(r.tracker.addToCart("sku-1"));
  assert.ok(r.tracker.purchase(["sku-1", { itemId: "sku-2" }, { item_id: "sku-3" }]));
  assert.ok(r.tracker.purchase("sku-4"));
  assert.ok(r.tracker.rate("sku-1", 5));
  assert.ok(r.tracker.track("video_play", "sku-1", 12.5));
  assert.ok(r.tracker.track("dwell", "sku-1", 3));
  assert.equal(r.tracker.rate("sku-1", 6), false);
  assert.equal(r.tracker.rate("sku-1", 0), false);
  assert.equal(r.tracker.track("scroll", "sku-1"), false);
  assert.equal(r.tracker.track("click", "sku-1", 1), false);
  assert.equal(r.tracker.track("click", " sku-1"), false);
  assert.equal(r.tracker.track("click", "x".repeat(257)), false);
  assert.equal(r.tracker.purchase([]), false);
  assert.equal(r.tracker.purchase([42 as unknown as string, { sku: "x" } as never]), false);
  assert.equal(r.tracker.purchase(["sku-1", "bad/id"]), false, "an order is sent whole or not at all");
  assert.ok(r.tracker.track("click", "e\u0301"));
  await r.clock.advance(1000);
  assert.deepEqual(r.http.events().map((e) => [e.type, e.item_id, e.value]), [
    ["add_to_cart", "sku-1", undefined], ["purchase", "sku-1", undefined], ["purchase", "sku-2", undefined],
    ["purchase", "sku-3", undefined], ["purchase", "sku-4", undefined], ["rating", "sku-1", 5],
    ["video_play", "sku-1", 12.5], ["dwell", "sku-1", 3], ["click", "\u00e9", undefined],
  ]);
  assert.equal(r.http.sent.length, 1, "one batch: a bad event never poisons it");
  await r.close();
});
