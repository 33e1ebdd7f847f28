// Neo4j Browser of `graphrec neo4j start` in Debian's headless Chromium (playwright-core; no browser download).
//
//   node neo4j-browser.mjs --browser http://localhost:HTTP/browser/ --password PW --style URL --guide URL
//                          --out DIR [--user neo4j] [--chromium /usr/bin/chromium]
//
// Opens Browser with every host but localhost refused, records the Bolt address its connect form was
// given by the server's discovery document, connects with the credentials given, loads the style sheet
// (`:style URL`), shows one Item node (its circle and caption), plays the guide (`:play URL`), goes to
// its first query's slide, clicks its parameter block and its query block (each pastes into the editor)
// and runs them, and records the result table in DIR/neo4j-browser.json with a screenshot
// DIR/neo4j-browser.png.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    browser: { type: "string" }, user: { type: "string", default: "neo4j" }, password: { type: "string" },
    style: { type: "string" }, guide: { type: "string" }, out: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
if (!args.browser || !args.password || !args.style || !args.guide || !args.out) {
  console.error("usage: node neo4j-browser.mjs --browser URL --password PW --style URL --guide URL --out DIR");
  process.exit(2);
}
mkdirSync(args.out, { recursive: true });
const LOCAL = new Set(["localhost", "127.0.0.1"]);
const record = { blocked: [], console_errors: [], steps: [] };
const browser = await chromium.launch({
  executablePath: args.chromium,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});

const FRAME = '[data-testid="frame"]';

async function run(page, command) {
  // the main editor is Monaco: insertText puts the command in without its auto-closing brackets
  const before = await page.locator(FRAME).count();
  await page.click("#monaco-main-editor");
  await page.keyboard.insertText(command);
  await page.click('[data-testid="editor-Run"]');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="frame"]').length > n, before, {
    timeout: 60_000,
  });
  record.steps.push(command.split("\n")[0]);
  return page.locator(FRAME).first(); // the newest frame is on top
}

async function runPasted(page, block) {
  // a guide block pastes its text into the editor on a click; then it is run like a typed command
  const before = await page.locator(FRAME).count();
  await block.click();
  await page.waitForFunction(
    (text) => (document.querySelector("#monaco-main-editor")?.textContent || "").replace(/\s+/g, "").length > 0,
    null,
    { timeout: 10_000 },
  );
  await page.click('[data-testid="editor-Run"]');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="frame"]').length > n, before, {
    timeout: 60_000,
  });
  return page.locator(FRAME).first();
}

try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on("console", (m) => { if (m.type() === "error") record.console_errors.push(m.text()); });
  await page.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (["http:", "https:", "ws:", "wss:"].includes(url.protocol) && !LOCAL.has(url.hostname)) {
      record.blocked.push(route.request().url());
      return route.abort();
    }
    return route.continue();
  });
  await page.goto(args.browser);
  const address = page.locator('input[data-testid="boltaddress"]');
  await address.waitFor({ timeout: 60_000 });
  await page.waitForFunction(
    () => (document.querySelector('input[data-testid="boltaddress"]')?.value || "").includes(":"),
    null,
    { timeout: 30_000 },
  );
  record.connect_form_bolt = await address.inputValue();
  const scheme = await page.locator('[data-testid="bolt-scheme-select"], select').first().inputValue().catch(() => "");
  record.connect_form_scheme = scheme;
  await page.fill('input[data-testid="username"]', args.user);
  await page.fill('input[data-testid="password"]', args.password);
  await page.click('button[data-testid="connect"]');
  await page.waitForFunction(() => document.body.innerText.includes("You are connected as user"), null, {
    timeout: 60_000,
  });
  record.connected = true;

  const styleFrame = await run(page, `:style ${args.style}`);
  await page.waitForTimeout(1_000);
  record.style_frame = (await styleFrame.innerText()).slice(0, 2000);

  const nodeFrame = await run(page, "MATCH (i:Item) RETURN i LIMIT 1");
  await nodeFrame.locator("svg g.node").first().waitFor({ timeout: 60_000 });
  await page.waitForTimeout(1_000); // the layout settles
  record.item_node = await nodeFrame.evaluate((frame) => {
    const node = frame.querySelector("svg g.node");
    const circle = node.querySelector("circle.b-outline") || node.querySelector("circle");
    return {
      fill: circle.getAttribute("fill"),
      r: circle.getAttribute("r"),
      caption: [...node.querySelectorAll("text")].map((t) => t.textContent).join(" "),
    };
  });

  const guide = await run(page, `:play ${args.guide}`);
  await page.waitForFunction(() => document.body.innerText.includes("graphrec: saved queries"), null, {
    timeout: 60_000,
  });
  record.guide_first_slide = (await guide.innerText()).slice(0, 3000);
  await guide.locator('[data-testid="nextSlide"]').click();
  await guide.locator("pre.runnable").first().waitFor({ timeout: 30_000 });
  record.guide_slide_title = await guide.locator("h3").first().innerText();
  const blocks = guide.locator("pre.runnable");
  record.guide_blocks = await blocks.allInnerTexts();
  const paramsFrame = await runPasted(page, blocks.nth(0));
  await page.waitForTimeout(1_000);
  record.params_frame = (await paramsFrame.innerText()).slice(0, 1000);
  // the guide frame moved down one place; its query block is still the second runnable block in it
  const queryBlock = page.locator(FRAME).nth(1).locator("pre.runnable").nth(1);
  const result = await runPasted(page, queryBlock);
  await result.locator('[data-testid="frame-loaded-contents"], table').first().waitFor({ timeout: 60_000 });
  // the table view of the result (Browser shows tables for rows without nodes)
  await page.waitForTimeout(1_000);
  record.result = (await result.innerText()).slice(0, 4000);
  await page.screenshot({ path: join(args.out, "neo4j-browser.png"), fullPage: true });
} catch (err) {
  record.error = String((err && err.stack) || err);
  try {
    const pages = browser.contexts().flatMap((c) => c.pages());
    if (pages.length) await pages[0].screenshot({ path: join(args.out, "neo4j-browser-failed.png"), fullPage: true });
  } catch {}
} finally {
  await browser.close();
  writeFileSync(join(args.out, "neo4j-browser.json"), JSON.stringify(record, null, 2));
}
process.exit(record.error ? 1 : 0);
