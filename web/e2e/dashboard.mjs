// The dashboard in Debian's headless Chromium (playwright-core; no browser download).
//
//   node dashboard.mjs --base http://127.0.0.1:PORT --key SECRET --wrong-key PK --out DIR [--chromium /usr/bin/chromium]
//
// Opens /dashboard with every other host refused, tries a publishable key first (the page must say it
// cannot read the dashboard), then the secret key, waits for the plots and records what each panel drew
// (SVG paths, bars, table rows) in DIR/dashboard.json with a screenshot DIR/dashboard.png.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    base: { type: "string" }, key: { type: "string" }, "wrong-key": { type: "string" }, out: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
if (!args.base || !args.key || !args["wrong-key"] || !args.out) {
  console.error("usage: node dashboard.mjs --base URL --key SECRET --wrong-key PK --out DIR");
  process.exit(2);
}
mkdirSync(args.out, { recursive: true });
const BASE = args.base.replace(/\/+$/, "");
const ORIGIN = new URL(BASE).origin;
const record = { blocked: [], console_errors: [] };
const browser = await chromium.launch({
  executablePath: args.chromium,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on("console", (m) => { if (m.type() === "error") record.console_errors.push(m.text()); });
  await page.route("**/*", (route) => {
    if (new URL(route.request().url()).origin === ORIGIN) return route.continue();
    record.blocked.push(route.request().url());
    return route.abort();
  });
  await page.goto(`${BASE}/dashboard`);
  await page.waitForSelector("#key-form:not([hidden])");
  await page.fill("#key", args["wrong-key"]);
  await page.click("#key-form button");
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("secret key is needed"));
  record.wrong_key_status = await page.textContent("#status");
  await page.fill("#key", args.key);
  await page.click("#key-form button");
  await page.waitForSelector("body[data-loaded]", { timeout: 20_000 });
  record.panels = await page.evaluate(() => {
    const panel = (name) => document.querySelector(`[data-chart="${name}"]`);
    const count = (name, sel) => panel(name).querySelectorAll(sel).length;
    return {
      ingest_paths: count("ingest", "path"),
      model_bars: [...panel("models").querySelectorAll("rect[data-bar]")].map((r) => ({
        label: r.dataset.bar, value: Number(r.dataset.value) })),
      ctr_series: [...panel("ctr").querySelectorAll("path[data-series]")].map((p) => p.dataset.series),
      report_rows: [...document.querySelectorAll("[data-report] tbody tr")].map((tr) => tr.textContent),
      better: [...document.querySelectorAll("[data-report] td.better")].map((td) => td.textContent),
      segment_bars: [...panel("segments").querySelectorAll("rect[data-bar]")].map((r) => r.dataset.bar),
      total: document.querySelector("[data-total]").textContent,
      url: location.href,
    };
  });
  await page.screenshot({ path: join(args.out, "dashboard.png"), fullPage: true });
} catch (err) {
  record.error = String(err && err.stack || err);
} finally {
  await browser.close();
  writeFileSync(join(args.out, "dashboard.json"), JSON.stringify(record, null, 2));
}
process.exit(record.error ? 1 : 0);
