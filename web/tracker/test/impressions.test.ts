import assert from "node:assert/strict";
import { test } from "node:test";
import { FakeIO, rig } from "./helpers";
import type { Rig, Sent } from "./helpers";
import type { TrackerOptions } from "../src/index";

// A category page (about no item) with a "Recommended for you" row of list rec_1 and a plain grid card.
const ROW = `
<section data-page-section="recommended" data-recommendation-id="rec_1">
  <article id="c1" data-item-id="sku-1"><a id="l1" href="/p/sku-1" data-track="click">one</a></article>
  <article id="c2" data-item-id="sku-2"></article>
  <article id="c3" data-item-id="sku-3"></article>
</section>
<section data-page-section="grid"><article id="g1" data-item-id="sku-7"></article></section>`;
const CATEGORY = "https://shop.example/category/books";
const QUIET: Partial<TrackerOptions> = { pageViews: false, activity: false, scroll: false };

const el = (r: Rig, id: string): Element => r.document.getElementById(id)!;
/** Where element `id` is now, for every observer watching it: `top`/`height` in px of a 768 px
 * viewport (100/200 is in full view, 668/200 half, -500/200 gone). */
const show = (r: Rig, id: string, top = 100, height = 200): void => {
  for (const io of FakeIO.all) if (io.targets.has(el(r, id))) io.fire(el(r, id), top, height);
};
const impressions = (r: Rig): Sent[] => r.http.sent.filter((s) => s.url === "https://api.example.com/v1/impressions");
const shown = (r: Rig): [string, string[]][] => impressions(r).map((s) => [s.body.recommendation_id, s.body.item_ids]);

test("impressions: a card at least half visible for a second is one impression of its list, never an event", async () => {
  const r = rig(QUIET, { html: ROW, url: CATEGORY });
  const t0 = r.clock.now();
  const io = FakeIO.of(el(r, "c1"));
  assert.deepEqual(io.options.threshold, [0, 0.5]);
  assert.ok(!io.targets.has(el(r, "g1")), "a card outside a recommendation list is not watched");
  show(r, "c1");
  show(r, "c2", 668, 200); // exactly half of it in view
  show(r, "c3", 678, 200); // 45 %: not seen
  await r.clock.advance(999);
  assert.equal(r.tracker.pending().length, 0, "not before a full second");
  await r.clock.advance(1);
  assert.deepEqual(r.tracker.pending().map((op) => op.t), ["imp", "imp"]);
  await r.clock.advance(1000); // the queue's debounce: both go in one request
  assert.deepEqual(shown(r), [["rec_1", ["sku-1", "sku-2"]]]);
  const [sent] = impressions(r);
  assert.deepEqual(sent!.body, { recommendation_id: "rec_1", item_ids: ["sku-1", "sku-2"], anonymous_id: r.tracker.anonymousId, timestamp: t0 + 1000 });
  assert.equal(sent!.headers["X-API-Key"], "pk_test_1");
  assert.equal(sent!.headers["Content-Type"], "application/json");

  // out of view and back, for long: each item once per list
  show(r, "c1", -500);
  show(r, "c2", -500);
  await r.clock.advance(100);
  show(r, "c1");
  show(r, "c2");
  await r.clock.advance(10_000);
  assert.equal(impressions(r).length, 1);
  assert.deepEqual(r.http.events(), [], "seeing a card is no interaction");
  await r.close();
});

test("impressions: visible for 0.9 s is none; the clock starts from zero each time the card comes back", async () => {
  const r = rig(QUIET, { html: ROW, url: CATEGORY });
  show(r, "c1");
  await r.clock.advance(900);
  show(r, "c1", -500); // scrolled away
  await r.clock.advance(5000);
  assert.deepEqual(shown(r), []);
  show(r, "c1");
  await r.clock.advance(600);
  show(r, "c1", 700, 200); // 34 %: below half
  await r.clock.advance(100);
  show(r, "c1");
  await r.clock.advance(600);
  assert.equal(r.tracker.pending().length, 0, "0.6 s + 0.6 s is not one second");
  await r.clock.advance(400);
  await r.clock.advance(1000);
  assert.deepEqual(shown(r), [["rec_1", ["sku-1"]]]);
  await r.close();
});

test("impressions: a hidden page shows nothing; the second starts again when it is back", async () => {
  const r = rig(QUIET, { html: ROW, url: CATEGORY });
  show(r, "c1");
  await r.clock.advance(600);
  r.setVisibility("hidden");
  await r.clock.advance(60_000);
  r.setVisibility("visible");
  await r.clock.advance(900);
  assert.equal(r.tracker.pending().length, 0);
  await r.clock.advance(100);
  await r.clock.advance(1000);
  assert.deepEqual(shown(r), [["rec_1", ["sku-1"]]]);
  await r.close();
});

test("scroll: cards scrolled past (in a recommendation row or a grid) are no scroll interaction, nor dwell", async () => {
  const r = rig({ pageViews: false, activity: { minimumVisitLength: 1, heartbeatDelay: 2, idleTimeout: 30, elements: 0.5 }, scroll: { minDepth: 0.1 } }, { html: ROW, url: CATEGORY });
  Object.defineProperty(r.document.documentElement, "scrollHeight", { configurable: true, value: 3000 });
  await r.clock.advance(0);
  for (let step = 0; step < 10; step++) {
    Object.defineProperty(r.window, "scrollY", { configurable: true, value: step * 200 });
    r.window.dispatchEvent(new r.window.Event("scroll"));
    for (const id of ["c1", "c2", "c3"]) show(r, id, 600 - step * 300, 200); // through the viewport: 0.9 s in view
    await r.clock.advance(300);
  }
  await r.clock.advance(3000);
  assert.deepEqual(shown(r), [], "each was in view for under a second");
  // then a row card and a grid card stay in view for a while (with input): dwell for the grid card only
  show(r, "c1");
  show(r, "g1");
  for (let i = 0; i < 5; i++) {
    r.window.dispatchEvent(new r.window.Event("mousemove"));
    await r.clock.advance(1000);
  }
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  await r.clock.advance(5000);
  const events = [...r.http.events(), ...r.beacon.events()];
  assert.deepEqual(events.filter((e) => e.type === "scroll"), [], "no scroll event for cards nor for a page about no item");
  assert.deepEqual(events.filter((e) => ["sku-1", "sku-2", "sku-3"].includes(e.item_id!)), [], "a recommendation row's cards are never interactions");
  assert.ok(events.some((e) => e.type === "dwell" && e.item_id === "sku-7"), "the grid card counts with activity.elements");
  assert.deepEqual(shown(r), [["rec_1", ["sku-1"]]], "the row card was seen: an impression");
  await r.close();
});

test("scroll: on the item's own page, its scroll depth is an interaction; the row below it gives impressions", async () => {
  const html = `<meta name="graphrec:item-id" content="sku-9">${ROW}`;
  const r = rig({ pageViews: true, activity: false, scroll: { minDepth: 0.25 } }, { html, url: "https://shop.example/p/sku-9" });
  Object.defineProperty(r.document.documentElement, "scrollHeight", { configurable: true, value: 1600 });
  Object.defineProperty(r.window, "scrollY", { configurable: true, value: 832 }); // (832 + 768) / 1600: the bottom
  r.window.dispatchEvent(new r.window.Event("scroll"));
  show(r, "c1");
  await r.clock.advance(1000);
  r.window.dispatchEvent(new r.window.Event("pagehide")); // the period's depth is reported, and the beacon goes
  await r.clock.advance(5000);
  const events = [...r.http.events(), ...r.beacon.events()];
  assert.deepEqual(events.map((e) => [e.type, e.item_id, e.value]), [["view", "sku-9", undefined], ["scroll", "sku-9", 1]]);
  assert.deepEqual(shown(r), [["rec_1", ["sku-1"]]]);
  await r.close();
});

test("impressions: lists are reported apart; a row given a new list is seen again; clicks name the list", async () => {
  const html = `${ROW}<div id="row2" data-recommendation-id="rec_2"><article id="d1" data-item-id="sku-1"></article></div>`;
  const r = rig({ ...QUIET, impressions: false, clicks: false }, { html, url: CATEGORY });
  const t = r.make({ impressions: true, clicks: true, env: { MutationObserver: r.window.MutationObserver } }); // this one watches DOM changes
  show(r, "c1");
  show(r, "d1");
  await r.clock.advance(2000);
  assert.deepEqual(shown(r), [["rec_1", ["sku-1"]], ["rec_2", ["sku-1"]]], "one request per list");
  (r.document.getElementById("l1") as HTMLElement).click();
  await r.clock.advance(1000);
  assert.deepEqual(r.http.events().map((e) => [e.type, e.item_id, e.context?.recommendation_id, e.context?.page_section]), [
    ["click", "sku-1", "rec_1", "recommended"],
  ]);
  // the row is refreshed with another list, the card staying in view
  r.document.querySelector('[data-recommendation-id="rec_1"]')!.setAttribute("data-recommendation-id", "rec_3");
  await r.clock.advance(0); // the mutation observer rescans
  await r.clock.advance(2000);
  assert.deepEqual(shown(r).at(-1), ["rec_3", ["sku-1"]]);
  // new cards rendered into a row are watched too
  const c4 = r.document.createElement("article");
  c4.id = "c4";
  c4.setAttribute("data-item-id", "sku-4");
  r.document.querySelector('[data-recommendation-id="rec_3"]')!.append(c4);
  await r.clock.advance(0);
  show(r, "c4");
  await r.clock.advance(2000);
  assert.deepEqual(shown(r).at(-1), ["rec_3", ["sku-4"]]);
  t.destroy();
  await r.close();
});

test("impressions: a tracker started before the body exists (a script in <head>) still finds rows rendered later", async () => {
  const r = rig({ ...QUIET, impressions: false }, { url: CATEGORY });
  r.document.body.remove();
  assert.equal(r.document.body, null);
  const t = r.make({ impressions: true, env: { MutationObserver: r.window.MutationObserver } });
  const body = r.document.createElement("body");
  r.document.documentElement.append(body);
  body.innerHTML = ROW;
  await r.clock.advance(0); // the mutation observer scans
  show(r, "c2");
  await r.clock.advance(2000);
  assert.deepEqual(shown(r), [["rec_1", ["sku-2"]]]);
  t.destroy();
  await r.close();
});

test("impressions: pagehide keeps a queued impression and what follows it for the next page (order holds)", async () => {
  const r = rig(QUIET, { html: ROW, url: CATEGORY });
  show(r, "c1");
  await r.clock.advance(1000); // seen: queued, waiting for the debounce
  (r.document.getElementById("l1") as HTMLElement).click();
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  assert.deepEqual(r.beacon.calls, [], "the click would be attributed before its list's impression arrived");
  assert.deepEqual(r.tracker.pending().map((op) => op.t), ["imp", "e"]);
  await r.clock.advance(2000); // the page lived on (or the next page sends them): in order
  assert.deepEqual(r.http.sent.map((s) => s.url.replace("https://api.example.com", "")), ["/v1/impressions", "/v1/events"]);
  await r.close();
});

test("impressions(): manual reports are queued and checked; nothing before consent or with impressions: false", async () => {
  const r = rig({ ...QUIET, requireConsent: true }, { html: ROW, url: CATEGORY });
  assert.equal(r.tracker.impressions("rec_9", ["sku-1"]), false, "no consent");
  assert.equal(FakeIO.all.length, 0, "nothing watches the page before consent");
  await r.clock.advance(3000);
  assert.deepEqual(r.http.sent, []);
  r.tracker.consent(true);
  r.tracker.identify("u42");
  assert.equal(r.tracker.impressions("rec_9", ["sku-1", "sku-\u00e9"]), true);
  assert.equal(r.tracker.impressions("rec 9", ["sku-1"]), false);
  assert.equal(r.tracker.impressions("rec_9", []), false);
  assert.equal(r.tracker.impressions("rec_9", ["a/b"]), false);
  assert.equal(r.tracker.impressions("rec_9", Array.from({ length: 101 }, (_, i) => `sku-${i}`)), false);
  assert.equal(r.logs.filter((l) => l.startsWith("warn graphrec: impressions")).length, 4);
  await r.clock.advance(2000);
  const manual = impressions(r).find((s) => s.body.recommendation_id === "rec_9")!;
  assert.deepEqual(manual.body.item_ids, ["sku-1", "sku-\u00e9"]);
  assert.equal(manual.body.user_id, "u42");
  assert.equal(manual.body.anonymous_id, undefined);
  await r.close();

  const off = rig({ ...QUIET, impressions: false }, { html: ROW, url: CATEGORY });
  assert.equal(FakeIO.all.length, 0, "no observer at all");
  await off.clock.advance(3000);
  assert.deepEqual(off.http.sent, []);
  await off.close();
});
