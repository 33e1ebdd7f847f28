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
    const s = w!.localStorage;
    s.setItem("graphrec.probe", "1");
    s.removeItem("graphrec.probe");
    return s;
  } catch {
    return null; // none, SecurityError (storage blocked) or QuotaExceededError (old Safari private mode)
  }
}

export function defaultEnv(overrides: Partial<Env> = {}): Env {
  const w = "window" in overrides ? overrides.window : typeof window !== "undefined" ? window : undefined;
  const g = (w || {}) as Window & typeof globalThis;
  const nav = g.navigator;
  const c = globalThis.crypto;
  return Object.assign(
    {
      window: w,
      document: w && w.document,
      storage: "storage" in overrides ? null : localStorageOrNull(w),
      fetch: typeof fetch === "function" ? (u: RequestInfo | URL, i?: RequestInit) => fetch(u, i) : undefined,
      sendBeacon: nav && nav.sendBeacon ? (u: string, b: string) => nav.sendBeacon(u, b) : undefined,
      now: Date.now,
      random: Math.random,
      setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
      clearTimeout: (t: Timer) => clearTimeout(t as number),
      requestIdleCallback: g.requestIdleCallback && ((fn: () => void, o: { timeout: number }) => g.requestIdleCallback(fn, o)),
      IntersectionObserver: g.IntersectionObserver,
      MutationObserver: g.MutationObserver,
      randomUUID: c && c.randomUUID && (() => c.randomUUID()),
      log: console,
    },
    overrides,
  );
}

/** A random UUID v4: crypto.randomUUID (secure contexts), else crypto.getRandomValues. */
export function uuid(env: Pick<Env, "randomUUID">): string {
  if (env.randomUUID) return env.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
