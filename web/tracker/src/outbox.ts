import type { Env, Timer } from "./env.js";
import type { WireEvent } from "./events.js";
import { namesUserToken } from "./token.js";
import type { UserTokens } from "./token.js";

/** What waits to be sent: events, impressions, and the identity/consent calls that must follow them in order. */
export type Op =
  | { t: "e"; e: WireEvent }
  | { t: "imp"; id: string; body: Impressions }
  | { t: "identify"; id: string; body: { anonymous_id: string; user_id: string } }
  | { t: "consent"; id: string; body: { anonymous_id?: string; user_id?: string; consent: boolean } };

/** POST /v1/impressions: items of one recommendation list seen by one actor, since `timestamp` (epoch ms). */
export interface Impressions {
  recommendation_id: string;
  item_ids: string[];
  anonymous_id?: string;
  user_id?: string;
  timestamp: number;
}

interface Saved {
  q: Op[];
  /** epoch ms before which nothing is sent (Retry-After / backoff), kept across reloads */
  next?: number;
  fails?: number;
}

export interface OutboxOptions {
  endpoint: string;
  key: string | undefined;
  storageKey: string;
  batchSize: number;
  maxQueue: number;
  maxAgeMs: number;
  flushInterval: number;
  debounce: number;
  maxBackoff: number;
  /** The signed-in user's token, sent with every request that names a user_id. */
  tokens?: UserTokens;
  warn(message: string, detail?: unknown): void;
  error(message: string, detail?: unknown): void;
}

/** Keepalive fetches and beacons share a 64 KiB in-flight budget per page; stay under it. */
const BODY_BUDGET = 60000;
const SERVER_MAX_BATCH = 1000;
const ROUTES = { e: "/v1/events", imp: "/v1/impressions", identify: "/v1/identify", consent: "/v1/consent" } as const;
const MAX_IMPRESSIONS = 100; // item_ids per request (server maximum)

export const opId = (op: Op): string => (op.t === "e" ? op.e.event_id : op.id);

/** The user a queued operation names (its request needs that user's token), or undefined. */
const userOf = (op: Op): string | undefined => (op.t === "e" ? op.e.user_id : op.body.user_id);

/** UTF-8 size of a string (the keepalive and beacon budgets count bytes). */
const bytes = (s: string): number => (typeof TextEncoder !== "undefined" ? new TextEncoder().encode(s).length : s.length * 3);

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date); 0 when absent. */
export function retryAfterMs(value: string | null | undefined, now: number): number {
  if (!value) return 0;
  const s = Number(value);
  if (value.trim() !== "" && isFinite(s)) return Math.max(0, s * 1000);
  const d = Date.parse(value);
  return isNaN(d) ? 0 : Math.max(0, d - now);
}

/**
 * A queue persisted in localStorage (memory when there is none), sent in order: runs of events as
 * batches, consecutive impressions of one list as one call, identify/consent calls alone. Every
 * change re-reads storage first, so tabs of one site share the queue without losing each other's
 * events (at worst a batch goes twice, and the server acknowledges the copy as a duplicate: event
 * ids never change; impressions repeated are counted once).
 */
export class Outbox {
  private _mem: Saved = { q: [] };
  private _timer: Timer | null = null;
  private _firstAt = 0;
  private _inflight: Promise<void> | null = null;
  private _sendingOps: Op[] = []; // the request in flight
  private _keepalive = false; // the request in flight outlives the page
  private _handed: Op[] = []; // in flight when the page went away: taken out of the queue, put back if it fails
  private _limit: number;
  private _closed = false;
  private _tokenRetry: string | undefined; // the batch already retried once with a fresh user token

  constructor(private _env: Env, private _o: OutboxOptions) {
    this._limit = Math.min(_o.batchSize, SERVER_MAX_BATCH);
  }

  private _read(): Saved {
    const st = this._env.storage;
    if (!st) return this._mem;
    try {
      const s = JSON.parse(st.getItem(this._o.storageKey) || "null") as Saved | null;
      if (s && Array.isArray(s.q)) return s;
    } catch {
      /* unreadable: start over */
    }
    return { q: [] };
  }

  private _write(s: Saved): void {
    const st = this._env.storage;
    if (!st) {
      this._mem = s;
      return;
    }
    try {
      if (s.q.length) st.setItem(this._o.storageKey, JSON.stringify(s));
      else st.removeItem(this._o.storageKey);
    } catch (e) {
      // Quota: keep the newest half rather than nothing.
      this._o.warn("graphrec: storage full, dropped half the queue", e);
      s.q = s.q.slice(Math.floor(s.q.length / 2));
      try {
        st.setItem(this._o.storageKey, JSON.stringify(s));
      } catch {
        /* give up on persistence for this change */
      }
    }
  }

  /** Queued operations (a copy), oldest first. */
  pending(): Op[] {
    return this._read().q.slice();
  }

  add(op: Op): void {
    const s = this._read();
    s.q.push(op);
    const over = s.q.length - this._o.maxQueue;
    if (over > 0) {
      let n = 0;
      s.q = s.q.filter((x) => (x.t !== "e" && x.t !== "imp") || n++ >= over);
      this._o.warn(`graphrec: queue full, dropped ${n} oldest`);
    }
    this._write(s);
    this.schedule();
  }

  /** Drops every queued event (opt-out); keeps nothing else either. */
  clear(): void {
    this._write({ q: [] });
    this._firstAt = 0;
  }

  private _remove(ids: Set<string>, patch: Partial<Saved>): void {
    const s = this._read();
    s.q = s.q.filter((op) => !ids.has(opId(op)));
    this._write(Object.assign(s, patch));
  }

  /** Puts operations handed over at pagehide back at the head of the queue (their request failed
   * and the page lived on), unless another tab queued them again meanwhile. */
  private _restore(ops: Op[]): void {
    if (!ops.length) return;
    const s = this._read();
    const queued = new Set(s.q.map(opId));
    s.q = [...ops.filter((op) => !queued.has(opId(op))), ...s.q];
    this._write(s);
  }

  /** Arms the flush timer: debounced, at most `flushInterval` after the first pending event, at
   * once when a batch is full, never before a Retry-After / backoff deadline. */
  schedule(): void {
    if (this._closed) return;
    const s = this._read();
    if (!s.q.length) return;
    const now = this._env.now();
    if (s.next && now < s.next) return this._arm(s.next - now);
    if (s.q.length >= this._limit) return this._arm(0);
    if (!this._firstAt) this._firstAt = now;
    this._arm(Math.min(this._o.debounce, Math.max(0, this._firstAt + this._o.flushInterval - now)));
  }

  private _arm(ms: number): void {
    if (this._timer !== null) this._env.clearTimeout(this._timer);
    this._timer = this._env.setTimeout(() => {
      this._timer = null;
      const ric = this._env.requestIdleCallback;
      if (ric) ric(() => void this.flush(), { timeout: 1000 });
      else void this.flush();
    }, ms);
  }

  /** Sends everything that may be sent now (one request at a time); resolves when done or waiting. */
  flush(): Promise<void> {
    if (!this._inflight) this._inflight = this._drain().finally(() => (this._inflight = null));
    return this._inflight;
  }

  /** Drops expired events (older than maxAgeMs: the server's duplicate records may be gone). */
  prune(): void {
    const s = this._read();
    const min = this._env.now() - this._o.maxAgeMs;
    const q = s.q.filter((op) => (op.t === "e" ? op.e.timestamp : op.t === "imp" ? op.body.timestamp : min) >= min);
    if (q.length !== s.q.length) {
      this._o.warn(`graphrec: dropped ${s.q.length - q.length} expired`);
      s.q = q;
      this._write(s);
    }
  }

  private _take(q: Op[]): Op[] {
    const head = q[0]!;
    if (head.t === "imp") {
      // consecutive impressions of one list: one request, in the name of the first one's actor (a list
      // is served to one actor; the tracker queues at most MAX_IMPRESSIONS items per operation)
      const out: Op[] = [];
      let n = 0;
      for (const op of q) {
        if (op.t !== "imp" || op.body.recommendation_id !== head.body.recommendation_id || (n += op.body.item_ids.length) > MAX_IMPRESSIONS) break;
        out.push(op);
      }
      return out;
    }
    if (head.t !== "e") return [head];
    const out: Op[] = [];
    let size = 12;
    for (const op of q) {
      // one user per batch: a user token stands for one user
      if (op.t !== "e" || out.length >= this._limit || userOf(op) !== userOf(head)) break;
      const n = bytes(JSON.stringify(op.e)) + 1;
      if (out.length && size + n > BODY_BUDGET) break;
      size += n;
      out.push(op);
    }
    return out;
  }

  private _body(batch: Op[]): { url: string; body: string } {
    const head = batch[0]!;
    const payload = head.t === "e" ? { events: batch.map((op) => (op as { e: WireEvent }).e) }
      : head.t === "imp" ? { ...head.body, item_ids: [...new Set(batch.flatMap((op) => (op as { body: Impressions }).body.item_ids))] }
      : head.body;
    return { url: this._o.endpoint + ROUTES[head.t], body: JSON.stringify(payload) };
  }

  private async _drain(): Promise<void> {
    const f = this._env.fetch;
    while (!this._closed && f) {
      const s = this._read();
      if (!s.q.length) {
        this._firstAt = 0; // the next event starts a new wait: flushInterval counts from the first one still pending
        return;
      }
      const now = this._env.now();
      if (s.next && now < s.next) return this._arm(s.next - now);
      const batch = this._take(s.q);
      const ids = new Set(batch.map(opId));
      const { url, body } = this._body(batch);
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (this._o.key) headers["X-API-Key"] = this._o.key;
      const user = userOf(batch[0]!);
      const tokens = user !== undefined ? this._o.tokens : undefined;
      let tokenless = false; // the site's token source failed: retried later like a network error
      if (tokens) {
        try {
          const token = await tokens._get(user!);
          if (token) headers["X-User-Token"] = token;
        } catch (e) {
          tokenless = true;
          this._o.warn("graphrec: userToken failed", e);
        }
      }
      // keepalive lets the request outlive the page; older Chromium refuses it with a CORS
      // preflight, so a retry goes without it.
      const keepalive = !s.fails && bytes(body) < BODY_BUDGET;
      this._sendingOps = batch;
      this._keepalive = keepalive;
      let res: Response | undefined;
      try {
        if (!tokenless) res = await f(url, { method: "POST", headers, body, keepalive, credentials: "omit" });
      } catch {
        /* network error, CORS refusal, offline: retried */
      } finally {
        this._sendingOps = [];
        this._keepalive = false;
      }
      const handed = this._handed;
      this._handed = [];
      const st = res ? res.status : 0;
      if (st >= 200 && st < 300) {
        this._tokenRetry = undefined;
        this._remove(ids, { next: 0, fails: 0 });
        continue;
      }
      if (!res || st === 408 || st === 425 || st === 429 || st >= 500) {
        this._restore(handed);
        const fails = (s.fails || 0) + 1;
        const back = Math.min(this._o.maxBackoff, 1000 * 2 ** (fails - 1)) * (0.5 + this._env.random() / 2);
        const wait = Math.max(retryAfterMs(res && res.headers.get("Retry-After"), this._env.now()), back);
        const cur = this._read();
        cur.next = this._env.now() + wait;
        cur.fails = fails;
        this._write(cur);
        return this._arm(wait);
      }
      if (st === 413 && batch.length > 1) {
        this._restore(handed);
        this._limit = Math.ceil(batch.length / 2);
        continue;
      }
      let detail: unknown = null;
      try {
        detail = await res.json();
      } catch {
        /* no JSON body */
      }
      // A 401 naming the user token (expired, or none): once more with a fresh one from the source.
      if (tokens && namesUserToken(st, detail) && this._tokenRetry !== opId(batch[0]!)) {
        this._tokenRetry = opId(batch[0]!);
        tokens._drop();
        this._restore(handed);
        continue;
      }
      // Refused for good (422 invalid, 403 consent withdrawn, 401 key, ...): never retried.
      const rows = detail && Array.isArray((detail as { detail?: unknown }).detail) ? ((detail as { detail: unknown[] }).detail as { index?: unknown }[]) : [];
      const bad = new Set<string>();
      if (batch[0]!.t === "e" && (st === 422 || st === 403)) {
        for (const r of rows) if (typeof r.index === "number" && batch[r.index]) bad.add(opId(batch[r.index]!));
      }
      const drop = bad.size ? bad : ids;
      this._o.error(`graphrec: ${url} ${st}, dropped ${drop.size}/${batch.length}`, detail);
      this._restore(handed.filter((op) => !drop.has(opId(op)))); // the rest of a refused batch goes again
      this._remove(drop, {});
    }
  }

  /**
   * Page is going away: hands queued events to navigator.sendBeacon (key in the query string,
   * text/plain JSON body), stopping at the first impressions, identify or consent call so that order
   * holds (a click attributed to a list must reach the server after that list's impressions). Not
   * while the server asked to wait (Retry-After): those stay queued for the next visit. Events of a
   * signed-in user carry the cached user token as ?user_token= (a beacon cannot set headers nor wait
   * for a fetch); without a usable one they stay queued too.
   *
   * A keepalive request in flight is handed over too: the browser delivers it after the page is
   * gone, as it does a beacon, and the page will never read its answer. Left queued, its events
   * would go again on the next visit (the server would only count them as duplicates). If it fails
   * while the page lives on (a hidden tab, the back/forward cache), they are put back.
   */
  beacon(): void {
    const s = this._read();
    const inFlight = new Set(this._sendingOps.map(opId));
    const handed = this._keepalive ? this._sendingOps : [];
    const sent = new Set(handed.map(opId));
    const b = this._env.sendBeacon;
    if (b && s.q.length && !(s.next && this._env.now() < s.next)) {
      const q = s.q.filter((op) => !inFlight.has(opId(op)));
      const base = this._o.endpoint + ROUTES.e + (this._o.key ? `?key=${encodeURIComponent(this._o.key)}` : "");
      for (let i = 0; i < q.length && q[i]!.t === "e"; ) {
        const batch = this._take(q.slice(i));
        const user = userOf(batch[0]!);
        const token = user !== undefined && this._o.tokens ? this._o.tokens._peek(user) : undefined;
        if (user !== undefined && this._o.tokens && !token) break;
        const url = token ? `${base}${base.includes("?") ? "&" : "?"}user_token=${encodeURIComponent(token)}` : base;
        let ok = false;
        try {
          ok = b(url, this._body(batch).body);
        } catch {
          /* some browsers throw on a full queue */
        }
        if (!ok) break;
        batch.forEach((op) => sent.add(opId(op)));
        i += batch.length;
      }
    }
    if (handed.length) this._handed = handed;
    if (sent.size) this._remove(sent, {});
  }

  close(): void {
    this._closed = true;
    if (this._timer !== null) this._env.clearTimeout(this._timer);
    this._timer = null;
  }
}
