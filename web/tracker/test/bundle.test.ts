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
// custom events (their client-side checks) and consent purposes (issue 28, point 3) added ~0.85 kB
const LIMIT = 10 * 1024;
let built: Promise<Record<string, string>> | undefined;
const bundlesOnce = (): Promise<Record<string, string>> => (built ??= bundles());
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

test("bundle: both builds stay under 10 kB min+gzip; the IIFE is one line", async () => {
  const out = await bundlesOnce();
  for (const [name, text] of Object.entries(out)) {
    const gz = gzipSize(text);
    assert.ok(gz < LIMIT, `${name}: ${gz} B min+gzip, limit ${LIMIT}`);
  }
  const iife = out["tracker.iife.js"]!;
  assert.equal(iife.trimEnd().split("\n").length, 1);
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

test("bundle: the ES module exports the public API", async () => {
  const out = await bundlesOnce();
  const esm = out["tracker.mjs"]!;
  const mod = await import(`data:text/javascript;base64,${Buffer.from(esm).toString("base64")}`);
  for (const name of ["createTracker", "createClient", "Tracker", "GraphrecError", "idProblem", "normaliseId", "eventProblem", "EVENT_TYPES", "VALUE_RANGES", "version"]) assert.ok(mod[name], name);
  assert.equal(mod.version, pkg.version);
});

test("package: no runtime dependencies", () => {
  assert.equal(pkg.dependencies, undefined);
  assert.equal(pkg.peerDependencies, undefined);
});

test("api types: src/api-types.ts is what openapi-typescript generates from openapi.json", async () => {
  const fresh: string = await generate();
  assert.equal(readFileSync(new URL("../src/api-types.ts", import.meta.url), "utf8"), fresh, "run `npm run gen-types`");
});
