import type { Env, Timer } from "./env.js";
import { listOf } from "./impressions.js";

export interface ActivityOptions {
  /** Seconds of visible, active time on a page before any dwell is reported (bounces report none). Default 5. */
  minimumVisitLength: number;
  /** Seconds between heartbeats; each reports the dwell accumulated since the last one. Default 10. */
  heartbeatDelay: number;
  /** Seconds without input (mouse, key, touch, scroll, wheel) after which the clock stops. Default 30. */
  idleTimeout: number;
  /** Also count dwell for item elements ([data-item-id]) at least this fraction visible (0-1), except
   * the cards of recommendation lists (those are impressions); false (default): the page's item only. */
  elements: number | false;
}

export interface ScrollOptions {
  /** The page's depth must reach this (0-1) before it is reported at all. Default 0.25. */
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
 * the total) and, when the visitor scrolled the page deeper than already reported, the new maximum
 * depth of the page, for the page's item. Scroll depth is an interaction with the page's own item
 * only: an item element merely scrolled into view is no interaction (cards of recommendation lists
 * are impressions, see impressions.ts).
 */
export class Engagement {
  private _visible = true;
  private _lastActivity = 0;
  private _lastTick = 0;
  private _visitMs = 0;
  private _dwell = new Map<string, [number, Element | undefined]>();
  private _inView = new Map<Element, [string, number]>();
  private _depth = 0;
  private _reported = 0;
  private _scrolled = false;
  private _pageItem: string | null = null;
  private _timer: Timer | null = null;
  private _scanTimer: Timer | null = null;
  private _measureAt = 0;
  private _io: IntersectionObserver | null = null;
  private _mo: MutationObserver | null = null;
  private _running = false;
  private _off: (() => void)[] = [];

  constructor(
    private _env: Env,
    private _act: ActivityOptions | false,
    private _scroll: ScrollOptions | false,
    private _selector: string,
    private _itemOf: (el: Element) => string | null,
    private _emit: Emit,
  ) {}

  private get _idleMs(): number {
    return this._act ? this._act.idleTimeout * 1000 : Infinity;
  }

  start(): void {
    const env = this._env;
    const w = env.window;
    const d = env.document;
    if (this._running || !w || !d) return;
    this._running = true;
    const now = env.now();
    this._visible = d.visibilityState !== "hidden";
    this._lastActivity = this._lastTick = now;
    const on = (t: EventTarget, type: string, fn: EventListener): void => {
      t.addEventListener(type, fn, { capture: true, passive: true });
      this._off.push(() => t.removeEventListener(type, fn, { capture: true }));
    };
    for (const type of INPUT) on(w, type, () => this._input(type));
    on(d, "visibilitychange", () => this._visibility(d.visibilityState !== "hidden"));
    const IO = env.IntersectionObserver;
    if (IO && this._act && this._act.elements !== false) {
      this._io = new IO((entries) => this._intersect(entries), { threshold: [0, 0.25, 0.5, 0.75, 1] });
      this._scan();
      const MO = env.MutationObserver;
      if (MO && d.body) {
        this._mo = new MO(() => {
          if (this._scanTimer === null) this._scanTimer = env.setTimeout(() => ((this._scanTimer = null), this._scan()), 500);
        });
        this._mo.observe(d.body, { childList: true, subtree: true });
      }
    }
    this._arm(this._act ? this._act.minimumVisitLength : 10);
  }

  stop(): void {
    if (!this._running) return;
    this._running = false;
    this._off.forEach((f) => f());
    this._off = [];
    if (this._io) this._io.disconnect();
    if (this._mo) this._mo.disconnect();
    this._io = this._mo = null;
    for (const t of [this._timer, this._scanTimer]) if (t !== null) this._env.clearTimeout(t);
    this._timer = this._scanTimer = null;
    this._inView.clear();
  }

  /** A new page (load or SPA route): the previous page's remainder is reported, counters restart. */
  newPage(itemId: string | null): void {
    if (this._running) this.report();
    this._pageItem = itemId;
    this._visitMs = 0;
    this._dwell.clear();
    this._depth = this._reported = 0;
    this._scrolled = false;
    const now = this._env.now();
    this._lastActivity = this._lastTick = now;
    if (this._io) {
      // The old page's elements are gone or re-rendered: observe afresh after the new render.
      this._io.disconnect();
      this._inView.clear();
      this._scanSoon();
    }
  }

  private _scanSoon(): void {
    if (this._scanTimer === null) this._scanTimer = this._env.setTimeout(() => ((this._scanTimer = null), this._scan()), 0);
  }

  private _scan(): void {
    const d = this._env.document;
    if (!this._io || !d) return;
    d.querySelectorAll(this._selector).forEach((el) => this._io!.observe(el)); // observing twice is a no-op
  }

  private _arm(seconds: number): void {
    if (this._timer !== null) this._env.clearTimeout(this._timer);
    this._timer = this._env.setTimeout(() => {
      this._timer = null;
      this.report();
      if (this._visible) this._arm(this._act ? this._act.heartbeatDelay : 10);
    }, seconds * 1000);
  }

  /** Adds the visible, active time since the last call to the page item and items in view. */
  private _accrue(now: number): void {
    if (this._visible) {
      const ms = Math.min(now, this._lastActivity + this._idleMs) - this._lastTick;
      if (ms > 0) {
        this._visitMs += ms;
        const act = this._act;
        if (act) {
          const ids = new Map<string, Element | undefined>();
          if (this._pageItem) ids.set(this._pageItem, undefined);
          if (act.elements !== false) {
            for (const [el, [id, ratio]] of this._inView) if (ratio >= act.elements && !ids.has(id) && !listOf(el)) ids.set(id, el);
          }
          for (const [id, el] of ids) {
            const cur = this._dwell.get(id);
            this._dwell.set(id, [(cur ? cur[0] : 0) + ms, el]);
          }
        }
      }
    }
    this._lastTick = now;
  }

  private _input(type: string): void {
    const now = this._env.now();
    if (now > this._lastActivity + this._idleMs) this._accrue(now); // waking from idle: close the idle gap
    this._lastActivity = now;
    if (type === "scroll" && this._scroll) {
      this._scrolled = true;
      if (now - this._measureAt >= 250) {
        this._measureAt = now;
        this._measure();
      }
    }
  }

  private _visibility(visible: boolean): void {
    const now = this._env.now();
    this._accrue(now);
    this._visible = visible;
    if (visible) {
      this._lastActivity = this._lastTick = now; // coming back to the tab counts as activity
      this._arm(this._act ? this._act.heartbeatDelay : 10);
    } else if (this._timer !== null) {
      this._env.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _intersect(entries: IntersectionObserverEntry[]): void {
    this._accrue(this._env.now());
    for (const e of entries) {
      const id = this._itemOf(e.target);
      if (!id) continue;
      if (e.isIntersecting) this._inView.set(e.target, [id, e.intersectionRatio]);
      else this._inView.delete(e.target);
    }
  }

  /** On scroll (throttled): how far down the page has been seen. */
  private _measure(): void {
    const w = this._env.window!;
    const root = this._env.document!.documentElement;
    if (root.scrollHeight > 0) this._depth = Math.max(this._depth, clamp01((w.scrollY + w.innerHeight) / root.scrollHeight));
  }

  /** Ends a period: dwell since the last report (once the visit is long enough), new scroll maxima. */
  report(): void {
    if (!this._running) return;
    this._accrue(this._env.now());
    const act = this._act;
    if (act && this._visitMs >= act.minimumVisitLength * 1000) {
      for (const [id, [ms, el]] of this._dwell) {
        if (ms < 1000) continue; // under a second: carried to the next period
        this._emit("dwell", id, Math.min(86400, round(ms / 1000, 1000)), el);
        this._dwell.delete(id);
      }
    }
    if (this._scroll && this._scrolled && this._pageItem) {
      this._measure();
      const v = round(this._depth, 100);
      if (v >= this._scroll.minDepth && v > this._reported) {
        this._reported = v;
        this._emit("scroll", this._pageItem, v);
      }
    }
  }
}
