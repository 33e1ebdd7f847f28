import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { eventProblem } from "../src/index";
import type { WireEvent } from "../src/index";
import { rig } from "./helpers";

const QUIET = { pageViews: false, activity: false, scroll: false } as const;
const pick = (e: WireEvent) => [e.type, e.item_id, e.price, e.currency, e.quantity, e.order_id];

test("purchase: price, currency, quantity and order id go on each line's event; details apply to every line", async () => {
  const r = rig(QUIET);
  assert.ok(r.tracker.purchase("sku-1", { price: 19.99, currency: "EUR", quantity: 2, orderId: "o-7" }));
  assert.ok(r.tracker.purchase(
    ["sku-2", { itemId: "sku-3", price: 5, quantity: 3 }, { item_id: "sku-4", price: 0 }],
    { price: 12.5, currency: "USD", orderId: "o-8" },
  ));
  assert.ok(r.tracker.purchase("sku-5"), "details stay optional");
  await r.clock.advance(1000);
  assert.deepEqual(r.http.events().map(pick), [
    ["purchase", "sku-1", 19.99, "EUR", 2, "o-7"],
    ["purchase", "sku-2", 12.5, "USD", undefined, "o-8"],
    ["purchase", "sku-3", 5, "USD", 3, "o-8"],
    ["purchase", "sku-4", 0, "USD", undefined, "o-8"],
    ["purchase", "sku-5", undefined, undefined, undefined, undefined],
  ]);
  const raw = r.http.sent[0]!.body.events[4];
  assert.deepEqual(Object.keys(raw).sort(), ["anonymous_id", "context", "event_id", "item_id", "timestamp", "type"], "no empty fields on the wire");
  await r.close();
});

test("purchase: a line the server would refuse drops the whole order, with a warning", async () => {
  const r = rig(QUIET);
  const bad: [string, object][] = [
    ["price without currency", { price: 10 }],
    ["currency without price", { currency: "EUR" }],
    ["lower-case currency", { price: 10, currency: "eur" }],
    ["negative price", { price: -1, currency: "EUR" }],
    ["infinite price", { price: Infinity, currency: "EUR" }],
    ["zero quantity", { quantity: 0 }],
    ["fractional quantity", { quantity: 1.5 }],
    ["bad order id", { orderId: "a/b" }],
  ];
  for (const [why, details] of bad) {
    assert.equal(r.tracker.purchase(["sku-1", "sku-2"], details), false, why);
  }
  assert.equal(r.tracker.purchase(["sku-1", { itemId: "sku-2", quantity: -2 }], { price: 1, currency: "EUR" }), false);
  assert.equal(r.tracker.pending().length, 0, "nothing of any of them is queued");
  assert.equal(r.logs.filter((l) => l.startsWith("warn graphrec: purchase")).length, 2 * bad.length + 1, "one per bad line");
  await r.close();
});

test("track: a custom event of the shop's own name, with or without an item, never a built-in name", async () => {
  const r = rig(QUIET, { html: '<section data-recommendation-id="rec_9"><button id="b" data-item-id="sku-2">♥</button></section>' });
  assert.ok(r.tracker.track("wishlist_add", { itemId: "sku-2", properties: { list: "summer", position: 3, gift: true } }));
  assert.ok(r.tracker.track("newsletter_signup"));
  assert.ok(r.tracker.track("wishlist_add", { itemId: "sku-2", element: r.document.getElementById("b")! }));
  for (const [name, opts] of [
    ["Wishlist Add", {}],
    ["purchase", { itemId: "sku-1" }],
    ["custom", {}],
    ["x".repeat(65), {}],
    ["ok", { properties: { "n.b": 1 } }],
    ["ok", { properties: { a: null } }],
    ["ok", { properties: { a: [1] } }],
    ["ok", { properties: { a: "x".repeat(257) } }],
    ["ok", { properties: Object.fromEntries(Array.from({ length: 21 }, (_, k) => [`p${k}`, k])) }],
    ["ok", { itemId: "a/b" }],
  ] as [string, object][]) {
    assert.equal(r.tracker.track(name, opts), false, name);
  }
  assert.equal(r.tracker.track("view", { itemId: "sku-1" } as never), false, "a built-in type takes an item id, not options");
  await r.clock.advance(1000);
  const sent = r.http.events();
  assert.deepEqual(sent.map((e) => [e.type, e.name, e.item_id, e.properties, e.context?.recommendation_id]), [
    ["custom", "wishlist_add", "sku-2", { list: "summer", position: 3, gift: true }, undefined],
    ["custom", "newsletter_signup", undefined, undefined, undefined],
    ["custom", "wishlist_add", "sku-2", undefined, "rec_9"],
  ]);
  assert.equal(sent[1]!.value, undefined);
  await r.close();
});

test("eventProblem: the purchase and custom fields follow the server's rules", () => {
  const base = { event_id: "e1", anonymous_id: "a-1", timestamp: 1_750_000_000_000 };
  assert.equal(eventProblem({ ...base, type: "purchase", item_id: "i", price: 1, currency: "EUR", quantity: 2, order_id: "o" }), null);
  assert.equal(eventProblem({ ...base, type: "custom", name: "wishlist_add" }), null);
  assert.match(eventProblem({ ...base, type: "click", item_id: "i", price: 1, currency: "EUR" })!, /^price:/);
  assert.match(eventProblem({ ...base, type: "click", item_id: "i", name: "x" })!, /^name:/);
  assert.match(eventProblem({ ...base, type: "view" })!, /^item_id /, "only a custom event may name no item");
  assert.match(eventProblem({ ...base, type: "custom", name: "x", value: 1 })!, /^value:/);
});

// Verdicts of the server's own validation (graphrec.events.schema), written by scripts/events-fixture.py.
const cases: { event: WireEvent; refused: string | null }[] = JSON.parse(readFileSync(new URL("./fixtures/events.json", import.meta.url), "utf8"));

test("eventProblem: refuses exactly the purchase and custom events the server refuses", () => {
  assert.ok(cases.length > 50);
  for (const { event, refused } of cases) {
    const problem = eventProblem(event);
    assert.equal(problem === null, refused === null, `${JSON.stringify(event)}: server ${refused ?? "accepts"}, tracker ${problem ?? "accepts"}`);
  }
});
