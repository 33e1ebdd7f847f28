// Builds dist/tracker.mjs (ES module) and dist/tracker.iife.js (one line, global `graphrec`) with
// esbuild; `--size` prints each bundle's minified and min+gzip bytes (node's zlib, level 9).
// The IIFE bundle is also copied to api/static/demo/tracker.iife.js: the demo storefront ships it in
// the Python package (so `make demo` needs no npm); tests/web/test_tracker.py keeps the copy fresh.
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = fileURLToPath(new URL("..", import.meta.url));
export const packaged = fileURLToPath(new URL("../../../api/static/demo/tracker.iife.js", import.meta.url));

const common = {
  bundle: true,
  minify: true,
  target: "es2020",
  platform: "browser",
  legalComments: "none",
  // Private members are spelled `_name` in the sources; their names are shortened in the bundles.
  mangleProps: /^_[a-zA-Z]/,
  write: false,
  absWorkingDir: root,
  logLevel: "silent",
};

/** Both bundles as text: { "tracker.mjs": ..., "tracker.iife.js": ... }. */
export async function bundles() {
  const [esm, iife] = await Promise.all([
    build({ ...common, entryPoints: ["src/index.ts"], format: "esm", outfile: "dist/tracker.mjs" }),
    build({ ...common, entryPoints: ["src/iife.ts"], format: "iife", outfile: "dist/tracker.iife.js" }),
  ]);
  return { "tracker.mjs": esm.outputFiles[0].text, "tracker.iife.js": iife.outputFiles[0].text.trimEnd() + "\n" };
}

export const gzipSize = (text) => gzipSync(Buffer.from(text), { level: 9 }).length;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await bundles();
  if (process.argv.includes("--size")) {
    for (const [name, text] of Object.entries(out)) {
      console.log(`${name.padEnd(16)} ${String(Buffer.byteLength(text)).padStart(6)} B min  ${String(gzipSize(text)).padStart(5)} B min+gzip`);
    }
  } else {
    mkdirSync(`${root}/dist`, { recursive: true });
    for (const [name, text] of Object.entries(out)) writeFileSync(`${root}/dist/${name}`, text);
    writeFileSync(packaged, out["tracker.iife.js"]);
    console.log(`built ${Object.keys(out).map((n) => `dist/${n}`).join(", ")} (+ api/static/demo/tracker.iife.js)`);
  }
}
