import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { eventProblem, idProblem, normaliseId } from "../src/index";

// Verdicts of the server's own rule (graphrec.ids.id_problem), written by scripts/ids-fixture.py.
const cases: { id: string; nfc: string; problem: string | null }[] = JSON.parse(readFileSync(new URL("./fixtures/ids.json", import.meta.url), "utf8"));

test("ids: the client rule gives the server's verdict on every fixture case", () => {
  assert.ok(cases.length >= 40);
  for (const c of cases) {
    assert.equal(c.id.normalize("NFC"), c.nfc, `NFC of ${JSON.stringify(c.id)}`);
    assert.equal(idProblem(c.nfc), c.problem, `verdict on ${JSON.stringify(c.id)}`);
  }
});

test("ids: normaliseId returns NFC and names the field on failure", () => {
  assert.equal(normaliseId("e\u0301"), "\u00e9");
  assert.throws(() => normaliseId("a/b", "item_id"), /item_id must not contain '\/'/);
  assert.throws(() => normaliseId(" x", "user_id"), /whitespace/);
});

test("ids: lone surrogates are refused (stricter than the server, never looser)", () => {
  assert.match(idProblem("a\ud800")!, /surrogate/);
  assert.match(idProblem("\udc00a")!, /surrogate/);
  assert.equal(idProblem("\ud83d\ude00"), null);
});

test("events: eventProblem applies the server's event rules", () => {
  const ok = { event_id: "e1", anonymous_id: "a-1", item_id: "sku-9", type: "view" as const, timestamp: Date.UTC(2026, 0, 1) };
  assert.equal(eventProblem(ok), null);
  assert.match(eventProblem({ ...ok, user_id: "u1" })!, /exactly one/);
  assert.match(eventProblem({ ...ok, anonymous_id: undefined, user_id: "anon:x" })!, /reserved/);
  assert.match(eventProblem({ ...ok, item_id: "a/b" })!, /item_id must not contain/);
  assert.match(eventProblem({ ...ok, type: "dwell" })!, /needs a number in \[0,86400\]/);
  assert.match(eventProblem({ ...ok, type: "scroll", value: 1.5 })!, /needs a number in \[0,1\], got 1.5/);
  assert.match(eventProblem({ ...ok, type: "rating", value: 0 })!, /\[1,5\]/);
  assert.match(eventProblem({ ...ok, value: 1 })!, /takes no value/);
  assert.match(eventProblem({ ...ok, type: "nope" as never })!, /unknown/);
  assert.match(eventProblem({ ...ok, timestamp: 1700000000 })!, /timestamp/);
  assert.equal(eventProblem({ ...ok, type: "dwell", value: 86400 }), null);
});

test("uuid: crypto.randomUUID when there is one, else a v4 UUID from getRandomValues", async () => {
  const { uuid } = await import("../src/env");
  assert.equal(uuid({ randomUUID: () => "x" }), "x");
  const ids = new Set(Array.from({ length: 50 }, () => uuid({ randomUUID: undefined })));
  assert.equal(ids.size, 50);
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});
