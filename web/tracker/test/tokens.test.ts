import assert from "node:assert/strict";
import { test } from "node:test";
import { createClient } from "../src/index";
import { FakeFetch, rig } from "./helpers";

const quiet = { pageViews: false, activity: false, scroll: false, clicks: false, spa: false } as const;

/** A v1 token as the site's server mints it (the signature is the server's business, not the page's). */
function token(sub: string, exp: number, n = 0): string {
  const payload = Buffer.from(JSON.stringify({ sub, iat: exp - 3600, exp })).toString("base64url");
  return `v1.${payload}.sig${n}`;
}

const expired = { status: 401, body: { detail: "event 0: user token (X-User-Token) expired 3 s ago; mint a new one" } };

test("tokens: a signed-in user's events carry X-User-Token from the callback, asked once while it lasts", async () => {
  const asked: string[] = [];
  const r = rig({ ...quiet, userId: "u-1", userToken: async (id) => (asked.push(id), token(id, 1e10)) });
  r.tracker.track("click", "sku-1");
  await r.tracker.flush();
  r.tracker.track("click", "sku-2");
  await r.tracker.flush();
  const posts = r.http.sent.filter((s) => s.url.endsWith("/v1/events"));
  assert.equal(posts.length, 2);
  assert.deepEqual(posts.map((s) => s.headers["X-User-Token"]), [token("u-1", 1e10), token("u-1", 1e10)]);
  assert.deepEqual(asked, ["u-1"]);
  await r.close();
});

test("tokens: an anonymous visitor's events go without a token, and the callback is not called", async () => {
  let asked = 0;
  const r = rig({ ...quiet, userToken: async () => (asked++, "t") });
  r.tracker.track("click", "sku-1");
  await r.tracker.flush();
  assert.equal(r.http.sent.length, 1);
  assert.equal(r.http.sent[0]!.headers["X-User-Token"], undefined);
  assert.equal(asked, 0);
  await r.close();
});

test("tokens: a 401 naming the user token gets a fresh token and one retry; a second 401 drops the batch", async () => {
  let n = 0;
  const r = rig({ ...quiet, userId: "u-1", userToken: async (id) => token(id, 1e10, ++n) });
  r.http.replies.push(expired);
  r.tracker.track("click", "sku-1");
  await r.tracker.flush();
  const posts = r.http.sent.filter((s) => s.url.endsWith("/v1/events"));
  assert.deepEqual(posts.map((s) => s.headers["X-User-Token"]), [token("u-1", 1e10, 1), token("u-1", 1e10, 2)]);
  assert.equal(r.tracker.pending().length, 0, "delivered on the retry");
  r.http.replies.push(expired, expired);
  r.tracker.track("click", "sku-2");
  await r.tracker.flush();
  assert.equal(r.http.sent.filter((s) => s.url.endsWith("/v1/events")).length, 4, "one retry, not a loop");
  assert.equal(r.tracker.pending().length, 0);
  assert.ok(r.logs.some((l) => l.includes("401, dropped 1/1")), r.logs.join("\n"));
  await r.close();
});

test("tokens: a token expiring within a minute is refreshed before it is sent", async () => {
  let n = 0;
  const r = rig({ ...quiet, userId: "u-1", userToken: async (id) => token(id, Math.floor(r.clock.now() / 1000) + 90, ++n) });
  r.tracker.track("click", "sku-1");
  await r.tracker.flush();
  await r.clock.advance(40_000);
  r.tracker.track("click", "sku-2");
  await r.tracker.flush();
  assert.equal(n, 2);
  await r.close();
});

test("tokens: identify and a signed-in user's opt-out carry the token; a failing callback is retried later", async () => {
  let fail = true;
  const r = rig({ ...quiet, userToken: async (id) => {
    if (fail) throw new Error("token endpoint down");
    return token(id, 1e10);
  } });
  r.tracker.track("click", "sku-1"); // anonymous: goes without a token
  r.tracker.identify("u-2");
  await r.tracker.flush();
  assert.deepEqual(r.http.sent.map((s) => s.url.replace("https://api.example.com", "")), ["/v1/events"]);
  assert.equal(r.tracker.pending()[0]!.t, "identify", "kept for later, not dropped");
  assert.ok(r.logs.some((l) => l.includes("userToken failed")));
  fail = false;
  await r.clock.advance(5_000);
  const identify = r.http.sent.find((s) => s.url.endsWith("/v1/identify"))!;
  assert.equal(identify.headers["X-User-Token"], token("u-2", 1e10));
  r.tracker.optOut();
  await r.tracker.flush();
  const consent = r.http.sent.find((s) => s.url.endsWith("/v1/consent"))!;
  assert.deepEqual(consent.body, { user_id: "u-2", consent: false });
  assert.equal(consent.headers["X-User-Token"], token("u-2", 1e10));
  await r.close();
});

test("tokens: a beacon carries the cached token as ?user_token=; without one the user's events wait", async () => {
  const r = rig({ ...quiet, userId: "u-3", userToken: async (id) => token(id, 1e10) });
  r.tracker.track("click", "sku-1");
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  assert.equal(r.beacon.calls.length, 0, "no token at hand yet: the events stay queued");
  assert.equal(r.tracker.pending().length, 1);
  await r.tracker.flush(); // fetches a token
  r.tracker.track("click", "sku-2");
  r.window.dispatchEvent(new r.window.Event("pagehide"));
  assert.equal(r.beacon.calls.length, 1);
  assert.equal(r.beacon.calls[0]!.url, `https://api.example.com/v1/events?key=pk_test_1&user_token=${token("u-3", 1e10)}`);
  await r.close();
});

test("tokens: the client sends the user's token for their recommendations and retries once on a 401 naming it", async () => {
  const http = new FakeFetch();
  let n = 0;
  const client = createClient({ endpoint: "https://api.example.com", key: "pk_1", fetch: http.fetch as typeof fetch,
                                userToken: async (id) => token(id, 1e10, ++n) });
  http.replies.push({ status: 401, body: { detail: "user token (X-User-Token) expired 1 s ago; mint a new one" } },
                    { status: 200, body: { data: [], count: 0 } });
  await client.recommendations("u-4");
  assert.deepEqual(http.sent.map((s) => s.headers["X-User-Token"]), [token("u-4", 1e10, 1), token("u-4", 1e10, 2)]);
  http.replies.push({ status: 200, body: { data: [], count: 0 } });
  await client.anonymousRecommendations("a-1");
  assert.equal(http.sent[2]!.headers["X-User-Token"], undefined);
});
