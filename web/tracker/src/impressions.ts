import type { Env, Timer } from "./env.js";

/** Marks a recommendation list on the page; its value is the list's `recommendation_id`. */
export const LIST_ATTR = "data-recommendation-id";
/** What the server accepts as a recommendation_id. */
export const REC_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Seen: at least this fraction of the element in the viewport ... */
const RATIO = 0.5;
/** ... for this long without a break, the page visible all along. */
const DWELL_MS = 1000;

/** The recommendation_id of the list an element is part of (its nearest marked ancestor), or null. */
export function listOf(el: Element): string | null {
  const list = el.closest(`[${LIST_ATTR}]`);
  const id = list && list.getAttribute(LIST_ATTR);
  return id && REC_ID.test(id) ? id : null;
}

/**
 * Impressions of recommendation lists. An item element (`itemSelector`) inside an element marked
 * `data-recommendation-id` is seen once at least half of it has been in the viewport, with the page
 * visible, for one second without a break (IntersectionObserver; one timer per element). Each (list, item)
 * is reported once per page life; the tracker queues the reports, and the outbox merges those of one
 * list into one request. Seeing is never an interaction: nothing here makes a behaviour event.
 */
export class Impressions {
  private _io: IntersectionObserver | null = null;
  private _mo: MutationObserver | null = null;
  /** Elements at least `ratio` visible now, each with its running timer (null: none running). */
  private _inView = new Map<Element, Timer | null>();
  private _done = new Set<string>();

  constructor(
    private _env: Env,
    private _selector: string,
    private _itemOf: (el: Element) => string | null,
    private _report: (recommendationId: string, itemIds: string[]) => void,
  ) {}

  _start(): void {
    const env = this._env;
    const d = env.document;
    const IO = env.IntersectionObserver;
    if (this._io || !IO || !d) return;
    this._io = new IO((entries) => entries.forEach((e) => this._entry(e)), { threshold: [0, RATIO] });
    const MO = env.MutationObserver;
    const root = d.body || d.documentElement; // a tracker started in <head> (a returning visitor's consent) has no body yet
    if (MO && root) {
      // new rows, re-rendered cards, a row given a new list: look again at once (the observer batches
      // a task's changes; a scan is one query per list), so that the second counts from the first paint
      this._mo = new MO(() => this._scan());
      this._mo.observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: [LIST_ATTR] });
    }
    this._scan();
  }

  _stop(): void {
    if (!this._io) return;
    this._io.disconnect();
    if (this._mo) this._mo.disconnect();
    this._io = this._mo = null;
    this._inView.forEach((t) => t !== null && this._env.clearTimeout(t));
    this._inView.clear();
  }

  /** Observes the item elements of every marked list (observing twice is a no-op), and restarts the
   * clock of elements in view whose list changed under them. */
  _scan(): void {
    const d = this._env.document;
    const io = this._io;
    if (!io || !d) return;
    d.querySelectorAll(`[${LIST_ATTR}]`).forEach((list) => list.querySelectorAll(this._selector).forEach((el) => io.observe(el)));
    this._inView.forEach((_, el) => this._arm(el));
  }

  private _key(el: Element): string | null {
    const list = listOf(el);
    const item = list && this._itemOf(el);
    return item ? `${list}/${item}` : null; // neither id may contain '/'
  }

  private _entry(e: IntersectionObserverEntry): void {
    const el = e.target;
    if (e.isIntersecting && e.intersectionRatio >= RATIO) {
      if (!this._inView.has(el)) this._inView.set(el, null);
      this._arm(el);
    } else {
      this._disarm(el);
      this._inView.delete(el);
      if (!el.isConnected && this._io) this._io.unobserve(el);
    }
  }

  private _arm(el: Element): void {
    const key = this._key(el);
    if (this._env.document!.visibilityState === "hidden" || this._inView.get(el) !== null || !key || this._done.has(key)) return;
    this._inView.set(el, this._env.setTimeout(() => {
      this._inView.set(el, null);
      if (!el.isConnected) {
        this._inView.delete(el);
        if (this._io) this._io.unobserve(el);
        return;
      }
      if (this._key(el) !== key) return this._arm(el); // the row shows another list now: its own second starts
      if (this._done.has(key)) return;
      this._done.add(key);
      const [list, item] = key.split("/") as [string, string];
      this._report(list, [item]);
    }, DWELL_MS));
  }

  private _disarm(el: Element): void {
    const t = this._inView.get(el);
    if (t != null) {
      this._env.clearTimeout(t);
      this._inView.set(el, null);
    }
  }

  /** The page was hidden or shown again (the tracker's visibilitychange listener). */
  _visibility(visible: boolean): void {
    // a hidden page shows nothing: the clocks start again from zero when it is back
    this._inView.forEach((_, el) => (visible ? this._arm(el) : this._disarm(el)));
  }
}
