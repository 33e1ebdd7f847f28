/**
 * Everything the tracker takes from the browser, in one place: tests pass fakes (clock, fetch,
 * beacon, storage, observers); in a page every field defaults to the global one.
 */
export type Timer = unknown;

export interface Env {
  window: Window | undefined;
  document: Document | undefined;
  /** localStorage, or null when unavailable (private mode, disabled, sandboxed frame). */
  storage: Storage | null;
  fetch: typeof fetch | undefined;
  sendBeacon: ((url: string, body: string) => boolean) | undefined;
  now(): number;
  random(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(t: Timer): void;
  requestIdleCallback: ((fn: () => void, opts: { timeout: number }) => unknown) | undefined;
  IntersectionObserver: typeof IntersectionObserver | undefined;
  MutationObserver: typeof MutationObserver | undefined;
  randomUUID: (() => string) | undefined;
  log: Pick<Console, "warn" | "error">;
}

function localStorageOrNull(w: Window | undefined): Storage | null {
  try {
    const s = w && w.localStorage;
    if (!s) return null;
    const probe = "graphrec.probe";
    s.setItem(probe, "1");
    s.removeItem(probe);
    return s;
  } catch {
    return null; // SecurityError (cookies blocked) or QuotaExceededError (Safari private mode)
  }
}

export function defaultEnv(overrides: Partial<Env> = {}): Env {
  const g = globalThis as unknown as Window & typeof globalThis;
  const w = "window" in overrides ? overrides.window : typeof window !== "undefined" ? window : undefined;
  const nav = w && w.navigator;
  const c = g.crypto;
  const env: Env = {
    window: w,
    document: w && w.document,
    storage: "storage" in overrides ? null : localStorageOrNull(w),
    fetch: typeof g.fetch === "function" ? g.fetch.bind(g) : undefined,
    sendBeacon: nav && typeof nav.sendBeacon === "function" ? (u, b) => nav.sendBeacon(u, b) : undefined,
    now: () => Date.now(),
    random: Math.random,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
    requestIdleCallback: w && typeof w.requestIdleCallback === "function" ? (fn, o) => w.requestIdleCallback(fn, o) : undefined,
    IntersectionObserver: w && (w as typeof g).IntersectionObserver,
    MutationObserver: w && (w as typeof g).MutationObserver,
    randomUUID: c && typeof c.randomUUID === "function" ? () => c.randomUUID() : undefined,
    log: console,
  };
  return Object.assign(env, overrides);
}

/** A random UUID v4: crypto.randomUUID, else getRandomValues, else Math.random (old browsers). */
export function uuid(env: Pick<Env, "randomUUID" | "random">): string {
  if (env.randomUUID) {
    try {
      return env.randomUUID();
    } catch {
      /* insecure context (http:): randomUUID throws; fall through */
    }
  }
  const b = new Uint8Array(16);
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = Math.floor(env.random() * 256);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
