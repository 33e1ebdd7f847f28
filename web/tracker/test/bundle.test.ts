import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import vm from "node:vm";
// @ts-expect-error plain JS build script
import { bundles, gzipSize } from "../scripts/build.mjs";
// @ts-expect-error plain JS build script
import { generate } from "../scripts/gen-types.mjs";

// 8 kB until user tokens (issue 25: the token cache, its refresh and one retry on a 401) added ~0.6 kB;
// impressions of recommendation rows (issue 28) fit in 9 kB, with ~30 bytes to spare; purchase details,
// custom events (their client-side checks) and consent purposes (issue 28, point 3) added ~0.85 kB, the
// client's bought-together list and the tracker's `client` getter for the widgets ~65 bytes more
const LIMIT = 10.5 * 1024;
// the widgets are a bundle of their own beside the tracker (a page without them pays nothing)
const WIDGETS_LIMIT = 5 * 1024;
let built: Promise<Record<string, string>> | undefined;
const bundlesOnce = (): Promise<Record<string, string>> => (built ??= bundles());
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

test("bundle: the tracker's builds stay under 10.5 kB min+gzip, the widgets' under 5 kB; each IIFE is one line", async () => {
  const out = await bundlesOnce();
  assert.deepEqual(Object.keys(out).sort(), ["tracker.iife.js", "tracker.mjs", "widgets.iife.js", "widgets.mjs"]);
  for (const [name, text] of Object.entries(out)) {
    const gz = gzipSize(text);
    const limit = name.startsWith("widgets") ? WIDGETS_LIMIT : LIMIT;
    assert.ok(gz < limit, `${name}: ${gz} B min+gzip, limit ${limit}`);
  }
  for (const name of ["tracker.iife.js", "widgets.iife.js"]) assert.equal(out[name]!.trimEnd().split("\n").length, 1, name);
});

test("bundle: the IIFE defines the global `graphrec` and starts a tracker from its script tag", async () => {
  const out = await bundlesOnce();
  const script = { getAttribute: (n: string) => ({ "data-endpoint": "https://api.example.com", "data-key": "pk_1" } as Record<string, string>)[n] ?? null, hasAttribute: () => true };
  const ctx: Record<string, unknown> = { document: { currentScript: script } };
  vm.createContext(ctx);
  vm.runInContext(out["tracker.iife.js"]!, ctx);
  const g = ctx.graphrec as Record<string, unknown>;
  for (const name of ["createTracker", "createClient", "idProblem", "normaliseId", "GraphrecError", "version"]) assert.ok(g[name], name);
  const t = g.tracker as { consentState: string };
  assert.equal(t.consentState, "pending", "data-require-consent honoured");
});

test("bundle: the widgets' IIFE, loaded after the tracker's, adds defineWidgets and defines the widgets for the tag's tracker", async () => {
  const out = await bundlesOnce();
  const script = { getAttribute: (n: string) => ({ "data-endpoint": "https://api.example.com", "data-key": "pk_1" } as Record<string, string>)[n] ?? null, hasAttribute: () => true };
  const defined: string[] = [];
  class HTMLElement {}
  const customElements = { get: () => undefined, define: (tag: string) => void defined.push(tag) };
  const ctx: Record<string, unknown> = { document: { currentScript: script }, HTMLElement, customElements, console };
  vm.createContext(ctx);
  vm.runInContext(out["tracker.iife.js"]!, ctx);
  vm.runInContext(out["widgets.iife.js"]!, ctx);
  const g = ctx.graphrec as Record<string, unknown>;
  assert.equal(typeof g.defineWidgets, "function");
  assert.deepEqual(defined, ["graphrec-recommendations", "graphrec-similar", "graphrec-trending", "graphrec-bought-together"]);
  assert.deepEqual((g.widgets as { tags: Record<string, string> }).tags.similar, "graphrec-similar");

  // alone, it says what is missing instead of failing later
  const errors: string[] = [];
  const alone: Record<string, unknown> = { console: { error: (m: string) => void errors.push(m) } };
  vm.createContext(alone);
  vm.runInContext(out["widgets.iife.js"]!, alone);
  assert.match(errors.join(), /load tracker\.iife\.js before widgets\.iife\.js/);
});

test("bundle: the ES module exports the public API", async () => {
  const out = await bundlesOnce();
  const esm = out["tracker.mjs"]!;
  const mod = await import(`data:text/javascript;base64,${Buffer.from(esm).toString("base64")}`);
  for (const name of ["createTracker", "createClient", "Tracker", "GraphrecError", "idProblem", "normaliseId", "eventProblem", "EVENT_TYPES", "VALUE_RANGES", "version"]) assert.ok(mod[name], name);
  assert.equal(mod.version, pkg.version);
  const widgets = await import(`data:text/javascript;base64,${Buffer.from(out["widgets.mjs"]!).toString("base64")}`);
  assert.equal(typeof widgets.defineWidgets, "function");
  assert.deepEqual(widgets.FIELDS, ["item_id", "title", "price", "currency", "categories", "category", "url", "image_url", "score", "source", "position"]);
});

test("package: no runtime dependencies", () => {
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.peerDependencies, undefined);
});

test("api types: src/api-types.ts is what openapi-typescript generates from openapi.json", async () => {
  const fresh: string = await generate();
  assert.equal(readFileSync(new URL("../src/api-types.ts", import.meta.url), "utf8"), fresh, "run `npm run gen-types`");
});
