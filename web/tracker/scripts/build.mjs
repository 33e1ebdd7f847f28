// Builds dist/tracker.mjs (ES module) and dist/tracker.iife.js (one line, global `graphrec`), and the
// widgets beside them, dist/widgets.mjs and dist/widgets.iife.js (adds to the global `graphrec`), with
// esbuild; `--size` prints each bundle's minified and min+gzip bytes (node's zlib, level 9).
// Both IIFE bundles are also copied to api/static/demo/: the demo storefront ships them in the Python
// package (so `make demo` needs no npm); tests/web/test_tracker.py keeps the copies fresh.
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Where the IIFE bundles are copied for the demo storefront. */
export const packagedDir = fileURLToPath(new URL("../../../api/static/demo/", import.meta.url));
export const PACKAGED = ["tracker.iife.js", "widgets.iife.js"];

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

/** Every bundle as text: { "tracker.mjs": ..., "tracker.iife.js": ..., "widgets.mjs": ..., "widgets.iife.js": ... }. */
export async function bundles() {
  const [esm, iife, wEsm, wIife] = await Promise.all([
    build({ ...common, entryPoints: ["src/index.ts"], format: "esm", outfile: "dist/tracker.mjs" }),
    build({ ...common, entryPoints: ["src/iife.ts"], format: "iife", outfile: "dist/tracker.iife.js" }),
    build({ ...common, entryPoints: ["src/widgets/index.ts"], format: "esm", outfile: "dist/widgets.mjs" }),
    build({ ...common, entryPoints: ["src/widgets/iife.ts"], format: "iife", outfile: "dist/widgets.iife.js" }),
  ]);
  const line = (r) => r.outputFiles[0].text.trimEnd() + "\n";
  return { "tracker.mjs": esm.outputFiles[0].text, "tracker.iife.js": line(iife), "widgets.mjs": wEsm.outputFiles[0].text, "widgets.iife.js": line(wIife) };
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
    for (const name of PACKAGED) writeFileSync(packagedDir + name, out[name]);
    console.log(`built ${Object.keys(out).map((n) => `dist/${n}`).join(", ")} (+ ${PACKAGED.map((n) => `api/static/demo/${n}`).join(", ")})`);
  }
}
