import type { Env, Timer } from "./env";
import type { WireEvent } from "./events";

/** What waits to be sent: events, and the identity/consent calls that must follow them in order. */
export type Op =
  | { t: "e"; e: WireEvent }
  | { t: "identify"; id: string; body: { anonymous_id: string; user_id: string } }
  | { t: "consent"; id: string; body: { anonymous_id?: string; user_id?: string; consent: boolean } };

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
  warn(message: string, detail?: unknown): void;
  error(message: string, detail?: unknown): void;
}

/** Keepalive fetches and beacons share a 64 KiB in-flight budget per page; stay under it. */
const BODY_BUDGET = 60000;
const SERVER_MAX_BATCH = 1000;
const ROUTES = { e: "/v1/events", identify: "/v1/identify", consent: "/v1/consent" } as const;

export const opId = (op: Op): string => (op.t === "e" ? op.e.event_id : op.id);

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
 * batches, identify/consent calls alone. Every change re-reads storage first, so tabs of one site
 * share the queue without losing each other's events (at worst a batch goes twice, and the server
 * acknowledges the copy as a duplicate: event ids never change).
 */
export class Outbox {
  private mem: Saved = { q: [] };
  private timer: Timer | null = null;
  private firstAt = 0;
  private inflight: Promise<void> | null = null;
  private sending = new Set<string>();
  private limit: number;
  private closed = false;

  constructor(private env: Env, private o: OutboxOptions) {
    this.limit = Math.min(o.batchSize, SERVER_MAX_BATCH);
  }

  private read(): Saved {
    const st = this.env.storage;
    if (!st) return this.mem;
    try {
      const s = JSON.parse(st.getItem(this.o.storageKey) || "null") as Saved | null;
      if (s && Array.isArray(s.q)) return s;
    } catch {
      /* unreadable: start over */
    }
    return { q: [] };
  }

  private write(s: Saved): void {
    const st = this.env.storage;
    if (!st) {
      this.mem = s;
      return;
    }
    try {
      if (s.q.length) st.setItem(this.o.storageKey, JSON.stringify(s));
      else st.removeItem(this.o.storageKey);
    } catch (e) {
      // Quota: keep the newest half rather than nothing.
      this.o.warn("graphrec: storage full, dropping the oldest queued events", e);
      s.q = s.q.slice(Math.floor(s.q.length / 2));
      try {
        st.setItem(this.o.storageKey, JSON.stringify(s));
      } catch {
        /* give up on persistence for this change */
      }
    }
  }

  /** Queued operations (a copy), oldest first. */
  pending(): Op[] {
    return this.read().q.slice();
  }

  add(op: Op): void {
    const s = this.read();
    s.q.push(op);
    const over = s.q.length - this.o.maxQueue;
    if (over > 0) {
      let n = 0;
      s.q = s.q.filter((x) => x.t !== "e" || n++ >= over);
      this.o.warn(`graphrec: queue over ${this.o.maxQueue} events, dropped the ${n} oldest`);
    }
    this.write(s);
    this.schedule();
  }

  /** Drops every queued event (opt-out); keeps nothing else either. */
  clear(): void {
    this.write({ q: [] });
    this.firstAt = 0;
  }

  private remove(ids: Set<string>, patch: Partial<Saved>): void {
    const s = this.read();
    s.q = s.q.filter((op) => !ids.has(opId(op)));
    this.write(Object.assign(s, patch));
  }

  /** Arms the flush timer: debounced, at most `flushInterval` after the first pending event, at
   * once when a batch is full, never before a Retry-After / backoff deadline. */
  schedule(): void {
    if (this.closed) return;
    const s = this.read();
    if (!s.q.length) return;
    const now = this.env.now();
    if (s.next && now < s.next) return this.arm(s.next - now);
    if (s.q.length >= this.limit) return this.arm(0);
    if (!this.firstAt) this.firstAt = now;
    this.arm(Math.min(this.o.debounce, Math.max(0, this.firstAt + this.o.flushInterval - now)));
  }

  private arm(ms: number): void {
    if (this.timer !== null) this.env.clearTimeout(this.timer);
    this.timer = this.env.setTimeout(() => {
      this.timer = null;
      const ric = this.env.requestIdleCallback;
      if (ric) ric(() => void this.flush(), { timeout: 1000 });
      else void this.flush();
    }, ms);
  }

  /** Sends everything that may be sent now (one request at a time); resolves when done or waiting. */
  flush(): Promise<void> {
    if (!this.inflight) this.inflight = this.drain().finally(() => (this.inflight = null));
    return this.inflight;
  }

  /** Drops expired events (older than maxAgeMs: the server's duplicate records may be gone). */
  prune(): void {
    const s = this.read();
    const min = this.env.now() - this.o.maxAgeMs;
    const q = s.q.filter((op) => op.t !== "e" || op.e.timestamp >= min);
    if (q.length !== s.q.length) {
      this.o.warn(`graphrec: dropped ${s.q.length - q.length} queued events older than ${this.o.maxAgeMs} ms`);
      s.q = q;
      this.write(s);
    }
  }

  private take(q: Op[]): Op[] {
    const head = q[0]!;
    if (head.t !== "e") return [head];
    const out: Op[] = [];
    let size = 12;
    for (const op of q) {
      if (op.t !== "e" || out.length >= this.limit) break;
      const n = bytes(JSON.stringify(op.e)) + 1;
      if (out.length && size + n > BODY_BUDGET) break;
      size += n;
      out.push(op);
    }
    return out;
  }

  private body(batch: Op[]): { url: string; body: string } {
    const head = batch[0]!;
    const payload = head.t === "e" ? { events: batch.map((op) => (op as { e: WireEvent }).e) } : head.body;
    return { url: this.o.endpoint + ROUTES[head.t], body: JSON.stringify(payload) };
  }

  private async drain(): Promise<void> {
    const f = this.env.fetch;
    while (!this.closed && f) {
      const s = this.read();
      if (!s.q.length) return;
      const now = this.env.now();
      if (s.next && now < s.next) return this.arm(s.next - now);
      const batch = this.take(s.q);
      const ids = new Set(batch.map(opId));
      this.sending = ids;
      const { url, body } = this.body(batch);
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (this.o.key) headers["X-API-Key"] = this.o.key;
      let res: Response | undefined;
      try {
        res = await f(url, { method: "POST", headers, body, keepalive: bytes(body) < BODY_BUDGET, credentials: "omit" });
      } catch {
        /* network error, CORS refusal, offline: retried */
      } finally {
        this.sending = new Set();
      }
      const st = res ? res.status : 0;
      if (st >= 200 && st < 300) {
        this.remove(ids, { next: 0, fails: 0 });
        continue;
      }
      if (!res || st === 408 || st === 425 || st === 429 || st >= 500) {
        const fails = (s.fails || 0) + 1;
        const back = Math.min(this.o.maxBackoff, 1000 * 2 ** (fails - 1)) * (0.5 + this.env.random() / 2);
        const wait = Math.max(retryAfterMs(res && res.headers.get("Retry-After"), this.env.now()), back);
        const cur = this.read();
        cur.next = this.env.now() + wait;
        cur.fails = fails;
        this.write(cur);
        return this.arm(wait);
      }
      if (st === 413 && batch.length > 1) {
        this.limit = Math.ceil(batch.length / 2);
        continue;
      }
      // Refused for good (422 invalid, 403 consent withdrawn, 401 key, ...): never retried.
      let detail: unknown = null;
      try {
        detail = await res.json();
      } catch {
        /* no JSON body */
      }
      const rows = detail && Array.isArray((detail as { detail?: unknown }).detail) ? ((detail as { detail: unknown[] }).detail as { index?: unknown }[]) : [];
      const bad = new Set<string>();
      if (batch[0]!.t === "e" && (st === 422 || st === 403)) {
        for (const r of rows) if (typeof r.index === "number" && batch[r.index]) bad.add(opId(batch[r.index]!));
      }
      const drop = bad.size ? bad : ids;
      this.o.error(`graphrec: ${url} answered ${st}; dropped ${drop.size} of ${batch.length} (not retried)`, detail);
      this.remove(drop, {});
    }
  }

  /**
   * Page is going away: hands queued events to navigator.sendBeacon (key in the query string,
   * text/plain JSON body), stopping at the first identify/consent call so that order holds. Not
   * while the server asked to wait (Retry-After): those stay queued for the next visit.
   */
  beacon(): void {
    const b = this.env.sendBeacon;
    const s = this.read();
    if (!b || !s.q.length || (s.next && this.env.now() < s.next)) return;
    const q = s.q.filter((op) => !this.sending.has(opId(op)));
    const sent = new Set<string>();
    const url = this.o.endpoint + ROUTES.e + (this.o.key ? `?key=${encodeURIComponent(this.o.key)}` : "");
    for (let i = 0; i < q.length && q[i]!.t === "e"; ) {
      const batch = this.take(q.slice(i));
      let ok = false;
      try {
        ok = b(url, this.body(batch).body);
      } catch {
        /* some browsers throw on a full queue */
      }
      if (!ok) break;
      batch.forEach((op) => sent.add(opId(op)));
      i += batch.length;
    }
    if (sent.size) this.remove(sent, {});
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) this.env.clearTimeout(this.timer);
    this.timer = null;
  }
}
