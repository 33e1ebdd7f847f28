import type { Env, Timer } from "./env";

export interface ActivityOptions {
  /** Seconds of visible, active time on a page before any dwell is reported (bounces report none). Default 5. */
  minimumVisitLength: number;
  /** Seconds between heartbeats; each reports the dwell accumulated since the last one. Default 10. */
  heartbeatDelay: number;
  /** Seconds without input (mouse, key, touch, scroll, wheel) after which the clock stops. Default 30. */
  idleTimeout: number;
  /** Also count dwell for item elements ([data-item-id]) at least this fraction visible (0-1);
   * false (default) counts the page's item only. */
  elements: number | false;
}

export interface ScrollOptions {
  /** An item's depth must reach this (0-1) before it is reported at all. Default 0.25. */
  minDepth: number;
}

export type Emit = (type: "dwell" | "scroll", itemId: string, value: number, el?: Element) => void;

const INPUT = ["mousemove", "mousedown", "keydown", "touchstart", "wheel", "scroll", "pointerdown"];
const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);
const round = (x: number, d: number): number => Math.round(x * d) / d;

/**
 * Dwell (visible and active time only) and scroll depth, reported per period. The clock runs while
 * the page is visible (Page Visibility API) and input happened within `idleTimeout`; each heartbeat
 * reports, per item, the seconds accumulated since the last report (so the server's per-edge sum is
 * the total) and, for items scrolled deeper than already reported, the new maximum depth.
 */
export class Engagement {
  private visible = true;
  private lastActivity = 0;
  private lastTick = 0;
  private visitMs = 0;
  private dwell = new Map<string, [number, Element | undefined]>();
  private inView = new Map<Element, [string, number]>();
  private depth = new Map<string, [number, Element | undefined]>();
  private reported = new Map<string, number>();
  private scrolled = false;
  private pageItem: string | null = null;
  private timer: Timer | null = null;
  private scanTimer: Timer | null = null;
  private measureAt = 0;
  private io: IntersectionObserver | null = null;
  private mo: MutationObserver | null = null;
  private running = false;
  private off: (() => void)[] = [];

  constructor(
    private env: Env,
    private act: ActivityOptions | false,
    private scroll: ScrollOptions | false,
    private selector: string,
    private itemOf: (el: Element) => string | null,
    private emit: Emit,
  ) {}

  private get idleMs(): number {
    return this.act ? this.act.idleTimeout * 1000 : Infinity;
  }

  start(): void {
    const { env } = this;
    const w = env.window;
    const d = env.document;
    if (this.running || !w || !d) return;
    this.running = true;
    const now = env.now();
    this.visible = d.visibilityState !== "hidden";
    this.lastActivity = this.lastTick = now;
    const on = (t: EventTarget, type: string, fn: EventListener): void => {
      t.addEventListener(type, fn, { capture: true, passive: true });
      this.off.push(() => t.removeEventListener(type, fn, { capture: true }));
    };
    for (const type of INPUT) on(w, type, () => this.input(type));
    on(d, "visibilitychange", () => this.visibility(d.visibilityState !== "hidden"));
    const IO = env.IntersectionObserver;
    if (IO && (this.scroll || (this.act && this.act.elements !== false))) {
      this.io = new IO((entries) => this.intersect(entries), { threshold: [0, 0.25, 0.5, 0.75, 1] });
      this.scan();
      const MO = env.MutationObserver;
      if (MO && d.body) {
        this.mo = new MO(() => {
          if (this.scanTimer === null) this.scanTimer = env.setTimeout(() => ((this.scanTimer = null), this.scan()), 500);
        });
        this.mo.observe(d.body, { childList: true, subtree: true });
      }
    }
    this.arm(this.act ? this.act.minimumVisitLength : 10);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.off.forEach((f) => f());
    this.off = [];
    if (this.io) this.io.disconnect();
    if (this.mo) this.mo.disconnect();
    this.io = this.mo = null;
    for (const t of [this.timer, this.scanTimer]) if (t !== null) this.env.clearTimeout(t);
    this.timer = this.scanTimer = null;
    this.inView.clear();
  }

  /** A new page (load or SPA route): the previous page's remainder is reported, counters restart. */
  newPage(itemId: string | null): void {
    if (this.running) this.report();
    this.pageItem = itemId;
    this.visitMs = 0;
    this.dwell.clear();
    this.depth.clear();
    this.reported.clear();
    this.scrolled = false;
    const now = this.env.now();
    this.lastActivity = this.lastTick = now;
    if (this.io) {
      // The old page's elements are gone or re-rendered: observe afresh after the new render.
      this.io.disconnect();
      this.inView.clear();
      this.scanSoon();
    }
  }

  private scanSoon(): void {
    if (this.scanTimer === null) this.scanTimer = this.env.setTimeout(() => ((this.scanTimer = null), this.scan()), 0);
  }

  private scan(): void {
    const d = this.env.document;
    if (!this.io || !d) return;
    d.querySelectorAll(this.selector).forEach((el) => this.io!.observe(el)); // observing twice is a no-op
  }

  private arm(seconds: number): void {
    if (this.timer !== null) this.env.clearTimeout(this.timer);
    this.timer = this.env.setTimeout(() => {
      this.timer = null;
      this.report();
      if (this.visible) this.arm(this.act ? this.act.heartbeatDelay : 10);
    }, seconds * 1000);
  }

  /** Adds the visible, active time since the last call to the page item and items in view. */
  private accrue(now: number): void {
    if (this.visible) {
      const ms = Math.min(now, this.lastActivity + this.idleMs) - this.lastTick;
      if (ms > 0) {
        this.visitMs += ms;
        const act = this.act;
        if (act) {
          const ids = new Map<string, Element | undefined>();
          if (this.pageItem) ids.set(this.pageItem, undefined);
          if (act.elements !== false) for (const [el, [id, ratio]] of this.inView) if (ratio >= act.elements && !ids.has(id)) ids.set(id, el);
          for (const [id, el] of ids) {
            const cur = this.dwell.get(id);
            this.dwell.set(id, [(cur ? cur[0] : 0) + ms, el]);
          }
        }
      }
    }
    this.lastTick = now;
  }

  private input(type: string): void {
    const now = this.env.now();
    if (now > this.lastActivity + this.idleMs) this.accrue(now); // waking from idle: close the idle gap
    this.lastActivity = now;
    if (type === "scroll" && this.scroll) {
      this.scrolled = true;
      if (now - this.measureAt >= 250) {
        this.measureAt = now;
        this.measure();
      }
    }
  }

  private visibility(visible: boolean): void {
    const now = this.env.now();
    this.accrue(now);
    this.visible = visible;
    if (visible) {
      this.lastActivity = this.lastTick = now; // coming back to the tab counts as activity
      this.arm(this.act ? this.act.heartbeatDelay : 10);
    } else if (this.timer !== null) {
      this.env.clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private seen(id: string, depth: number, el?: Element): void {
    const cur = this.depth.get(id);
    if (!cur || depth > cur[0]) this.depth.set(id, [depth, el]);
  }

  private intersect(entries: IntersectionObserverEntry[]): void {
    this.accrue(this.env.now());
    for (const e of entries) {
      const id = this.itemOf(e.target);
      if (!id) continue;
      if (e.isIntersecting) {
        this.inView.set(e.target, [id, e.intersectionRatio]);
        const b = e.boundingClientRect;
        if (b.height > 0) this.seen(id, clamp01((e.intersectionRect.bottom - b.top) / b.height), e.target);
      } else this.inView.delete(e.target);
    }
  }

  /** On scroll (throttled): how far down each element in view, and the page, has been seen. */
  private measure(): void {
    const w = this.env.window!;
    const vh = w.innerHeight;
    for (const [el, [id]] of this.inView) {
      const r = el.getBoundingClientRect();
      if (r.height > 0) this.seen(id, clamp01((vh - r.top) / r.height), el);
    }
    const root = this.env.document!.documentElement;
    if (this.pageItem && root.scrollHeight > 0) this.seen(this.pageItem, clamp01((w.scrollY + vh) / root.scrollHeight));
  }

  /** Ends a period: dwell since the last report (once the visit is long enough), new scroll maxima. */
  report(): void {
    if (!this.running) return;
    this.accrue(this.env.now());
    const act = this.act;
    if (act && this.visitMs >= act.minimumVisitLength * 1000) {
      for (const [id, [ms, el]] of this.dwell) {
        if (ms < 1000) continue; // under a second: carried to the next period
        this.emit("dwell", id, Math.min(86400, round(ms / 1000, 1000)), el);
        this.dwell.delete(id);
      }
    }
    if (this.scroll && this.scrolled) {
      this.measure();
      for (const [id, [d, el]] of this.depth) {
        const v = round(d, 100);
        if (v >= this.scroll.minDepth && v > (this.reported.get(id) || 0)) {
          this.reported.set(id, v);
          this.emit("scroll", id, v, el);
        }
      }
    }
  }
}
