import { Window as HappyWindow } from "happy-dom";
import { createTracker } from "../src/index";
import type { Env, Tracker, TrackerOptions, WireEvent } from "../src/index";

/** A clock and timers under the test's control; advance() runs due timers in order and lets the
 * promise chains they start (fetch, json) settle in between. */
export class FakeClock {
  t = Date.UTC(2026, 0, 15, 12, 0, 0);
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): number => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms || 0), fn });
    return id;
  };
  clearTimeout = (id: unknown): void => {
    this.timers.delete(id as number);
  };
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
  pendingTimers(): number {
    return this.timers.size;
  }
}

export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

export class MemoryStorage implements Storage {
  private m = new Map<string, string>();
  get length(): number {
    return this.m.size;
  }
  clear(): void {
    this.m.clear();
  }
  getItem(k: string): string | null {
    return this.m.has(k) ? this.m.get(k)! : null;
  }
  key(i: number): string | null {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string): void {
    this.m.delete(k);
  }
  setItem(k: string, v: string): void {
    this.m.set(k, String(v));
  }
  keys(): string[] {
    return [...this.m.keys()];
  }
}

export interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: any;
  raw: string;
  keepalive?: boolean;
}

type Reply = { status: number; headers?: Record<string, string>; body?: unknown } | "network";

/** fetch that records each request and answers from a script (default: 202 with counts). */
export class FakeFetch {
  sent: Sent[] = [];
  replies: Reply[] = [];
  private _gate: Promise<void> | null = null;
  /** Holds every request from now on, in flight, until the returned function is called; the reply is
   * taken from `replies` when released. */
  hold(): () => Promise<void> {
    let open!: () => void;
    this._gate = new Promise((resolve) => (open = resolve));
    return async () => {
      this._gate = null;
      open();
      for (let i = 0; i < 10; i++) await Promise.resolve(); // let the held requests' handlers run
    };
  }
  fetch = async (url: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    const raw = typeof init.body === "string" ? init.body : "";
    this.sent.push({ url: String(url), method: init.method || "GET", headers: { ...(init.headers as Record<string, string>) }, body: raw ? JSON.parse(raw) : null, raw, keepalive: init.keepalive });
    if (this._gate) await this._gate;
    const r = this.replies.shift() ?? { status: 202, body: { received: 1 } };
    if (r === "network") throw new TypeError("Failed to fetch");
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), { status: r.status, headers: r.headers });
  };
  /** Events of every POST /v1/events so far, flattened. */
  events(): WireEvent[] {
    return this.sent.filter((s) => s.url.includes("/v1/events")).flatMap((s) => s.body.events);
  }
}

export class FakeBeacon {
  calls: { url: string; body: unknown }[] = [];
  accept = true;
  send = (url: string, body: unknown): boolean => {
    this.calls.push({ url, body });
    return this.accept;
  };
  events(): WireEvent[] {
    return this.calls.flatMap((c) => JSON.parse(c.body as string).events);
  }
}

/** IntersectionObserver whose entries the test delivers by hand. */
export class FakeIO {
  static all: FakeIO[] = [];
  targets = new Set<Element>();
  constructor(private cb: (entries: IntersectionObserverEntry[], io: unknown) => void, readonly options: IntersectionObserverInit = {}) {
    FakeIO.all.push(this);
  }
  /** The latest observer watching `el` (the tracker has one for element dwell, one for impressions). */
  static of(el: Element): FakeIO {
    const io = [...FakeIO.all].reverse().find((o) => o.targets.has(el));
    if (!io) throw new Error("no IntersectionObserver observes this element");
    return io;
  }
  observe(el: Element): void {
    this.targets.add(el);
  }
  unobserve(el: Element): void {
    this.targets.delete(el);
  }
  disconnect(): void {
    this.targets.clear();
  }
  takeRecords(): [] {
    return [];
  }
  /** Delivers an entry for `el`: `ratio` visible, the element spanning [top, top+height] with a viewport of `vh`. */
  fire(el: Element, top: number, height: number, vh = 768): void {
    const visTop = Math.max(top, 0);
    const visBottom = Math.min(top + height, vh);
    const visible = Math.max(0, visBottom - visTop);
    const rect = (t: number, h: number) => ({ top: t, bottom: t + h, height: h, left: 0, right: 100, width: 100, x: 0, y: t });
    this.cb([{
      target: el, isIntersecting: visible > 0, intersectionRatio: height ? visible / height : 0,
      boundingClientRect: rect(top, height), intersectionRect: rect(visTop, visible), rootBounds: rect(0, vh), time: 0,
    } as unknown as IntersectionObserverEntry], this);
  }
}

export interface Rig {
  tracker: Tracker;
  window: Window & typeof globalThis;
  document: Document;
  clock: FakeClock;
  http: FakeFetch;
  beacon: FakeBeacon;
  storage: MemoryStorage;
  logs: string[];
  make(opts?: Partial<TrackerOptions>): Tracker;
  setVisibility(state: "visible" | "hidden"): void;
  close(): Promise<void>;
}

/** A page (happy-dom) with fake clock, fetch, beacon, storage and IntersectionObserver. */
export function rig(opts: Partial<TrackerOptions> = {}, page: { url?: string; html?: string; storage?: MemoryStorage; clock?: FakeClock } = {}): Rig {
  const happy = new HappyWindow({ url: page.url ?? "https://shop.example/p/sku-9", width: 1024, height: 768 });
  const window = happy as unknown as Window & typeof globalThis;
  const document = window.document;
  document.body.innerHTML = page.html ?? "";
  const clock = page.clock ?? new FakeClock();
  const http = new FakeFetch();
  const beacon = new FakeBeacon();
  const storage = page.storage ?? new MemoryStorage();
  const logs: string[] = [];
  let visibility: "visible" | "hidden" = "visible";
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => visibility });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => visibility === "hidden" });
  let n = 0;
  const env: Partial<Env> = {
    window,
    document,
    storage,
    fetch: http.fetch as typeof fetch,
    sendBeacon: beacon.send,
    now: clock.now,
    random: () => 0.5,
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    requestIdleCallback: undefined,
    IntersectionObserver: FakeIO as unknown as typeof IntersectionObserver,
    MutationObserver: undefined,
    randomUUID: () => `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`,
    log: { warn: (m: string) => void logs.push(`warn ${m}`), error: (m: string) => void logs.push(`error ${m}`) },
  };
  const trackers: Tracker[] = [];
  const make = (o: Partial<TrackerOptions> = {}): Tracker => {
    const t = createTracker({ endpoint: "https://api.example.com/", key: "pk_test_1", ...opts, ...o, env: { ...env, ...opts.env, ...o.env } });
    trackers.push(t);
    return t;
  };
  const tracker = make();
  return {
    tracker, window, document, clock, http, beacon, storage, logs, make,
    setVisibility(state) {
      visibility = state;
      document.dispatchEvent(new window.Event("visibilitychange"));
    },
    async close() {
      trackers.forEach((t) => t.destroy());
      FakeIO.all = [];
      await happy.happyDOM.close();
    },
  };
}
