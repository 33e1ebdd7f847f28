// Neo4j Browser of `graphrec neo4j start` in Debian's headless Chromium (playwright-core; no browser download).
//
//   node neo4j-browser.mjs --browser http://localhost:HTTP/browser/ --password PW --style URL --guide URL
//                          --out DIR [--user neo4j] [--chromium /usr/bin/chromium]
//
// Opens Browser with every host but localhost refused, records the Bolt address its connect form was
// given by the server's discovery document, connects with the credentials given, loads the style sheet
// (`:style URL`), shows one Item node (its circle and caption), plays the guide (`:play URL`), and on
// every query slide clicks its parameter block and its query block (each pastes into the editor) and
// runs them, recording each slide's title, blocks, parameter frame and result (its text, whether it
// shows an error) in DIR/neo4j-browser.json, with a screenshot DIR/neo4j-browser.png. A query that
// fails or times out is recorded and the walk goes on to the next slide.
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

async function waitText(locator, pattern, timeout) {
  // a frame's text, polled until it matches (its deadline: `timeout` ms)
  const deadline = Date.now() + timeout;
  for (;;) {
    const text = await locator.innerText().catch(() => "");
    if (pattern.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeout} ms; the frame says: ${text.slice(-500)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function clear(page) {
  // `:clear` empties the stream without a frame of its own
  await page.click("#monaco-main-editor");
  await page.keyboard.insertText(":clear");
  await page.click('[data-testid="editor-Run"]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="frame"]').length === 0, null, {
    timeout: 30_000,
  });
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

  const nodeFrame = await run(page, "MATCH (i:Item) RETURN i ORDER BY i.id LIMIT 1");
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
  const total = Number((record.guide_first_slide.match(/1 \/ (\d+)/) || [])[1] || 0);
  record.queries = [];
  // each query from a fresh stream (`:clear`, `:play` again, on to its slide): Browser keeps a bounded
  // number of frames, and the guide frame, the oldest, would be dropped after a few queries
  for (let slide = 1; slide < total; slide++) {
    const entry = { slide };
    record.queries.push(entry);
    try {
      await clear(page);
      const frame = await run(page, `:play ${args.guide}`);
      await waitText(frame, /graphrec: saved queries/, 60_000);
      for (let k = 1; k <= slide; k++) {
        await frame.locator('[data-testid="nextSlide"]').click();
        await waitText(frame, new RegExp(`\\b${k + 1} / ${total}\\b`), 30_000);
      }
      entry.title = await frame.locator("h3").first().innerText();
      const blocks = frame.locator("pre.runnable");
      entry.blocks = await blocks.allInnerTexts();
      const paramsFrame = await runPasted(page, blocks.nth(0));
      await waitText(paramsFrame, /Successfully set|ERROR|Could not/, 30_000);
      entry.params_frame = (await paramsFrame.innerText()).slice(-1000);
      // the guide frame is now the second one; its query block is its second runnable block
      const result = await runPasted(page, page.locator(FRAME).nth(1).locator("pre.runnable").nth(1));
      // done: rows streamed (table view), a graph drawn (graph view), or an error
      await waitText(result, /Started streaming \d+ records?|Displaying \d+ nodes|ERROR|Neo\.\w+Error/, 180_000);
      const table = result.locator('[data-testid="cypherFrameSidebarTable"]');
      if (await table.count()) {
        await table.click();
        await waitText(result, /Started streaming \d+ records?/, 30_000);
      }
      const text = await result.innerText();
      entry.result = text.length > 4000 ? `${text.slice(0, 3000)}\n[...]\n${text.slice(-1000)}` : text;
      const streamed = text.match(/Started streaming (\d+) records?/);
      entry.records = streamed ? Number(streamed[1]) : null;
      entry.error = /ERROR|Neo\.\w+Error/.test(text) ? text.slice(-1500) : null;
    } catch (err) {
      entry.error = String((err && err.message) || err).slice(0, 1000);
    }
  }
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
