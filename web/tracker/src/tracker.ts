import { Engagement } from "./activity.js";
import type { ActivityOptions, ScrollOptions } from "./activity.js";
import { createClient } from "./client.js";
import type { Client, ListOptions, PopularItems, Recommendations, RecommendationOptions, SimilarItems } from "./client.js";
import { defaultEnv, uuid } from "./env.js";
import type { Env } from "./env.js";
import { EVENT_TYPES, eventProblem } from "./events.js";
import type { CustomProperties, EventContext, EventType, WireEvent } from "./events.js";
import { idProblem } from "./ids.js";
import { Impressions, listOf, REC_ID } from "./impressions.js";
import { Outbox } from "./outbox.js";
import type { Op } from "./outbox.js";
import { UserTokens } from "./token.js";
import type { UserTokenSource } from "./token.js";

export interface TrackerOptions {
  /** API base URL, e.g. "https://api.example.com" (the tracker appends /v1/...). */
  endpoint: string;
  /** Publishable browser key (pk_...): X-API-Key on fetches, ?key= on beacons. */
  key?: string;
  /**
   * Track nothing, store nothing and send nothing until consent(true) (or consent({ analytics: true })),
   * and ask for no personal list until personalisation is granted. Default false: both purposes granted.
   */
  requireConsent?: boolean;
  /** A known user from the start (same as calling identify()). */
  userId?: string;
  /**
   * The signed-in user's token, minted by the site's server (the publishable key may name a user_id
   * only with that user's token): a string, or `(userId) => Promise<string>` fetching one. The
   * function is called when there is no token for the current user, when it expires within a minute,
   * and once after a 401 that names it; the token goes as X-User-Token on every request that names
   * the user, and as ?user_token= on beacons (a user's events wait for the next page when no
   * unexpired token is at hand).
   */
  userToken?: UserTokenSource;
  /** A `view` of the page's item on load and on each SPA route change. Default true. */
  pageViews?: boolean;
  /** Follow SPA route changes (history.pushState/replaceState wrappers and popstate). Default true. */
  spa?: boolean;
  /** Delegated click tracking; a string replaces the selector "[data-track], a[data-item-id]". Default true. */
  clicks?: boolean | string;
  /** Dwell from visible, active time (heartbeats). Default true, with the defaults of ActivityOptions. */
  activity?: boolean | Partial<ActivityOptions>;
  /** Scroll depth of the page, for the page's item (only on a page about an item). Default true. */
  scroll?: boolean | Partial<ScrollOptions>;
  /**
   * Impressions of recommendation lists: an item element inside an element marked
   * `data-recommendation-id="<the list's recommendation_id>"` that is at least half visible for one
   * second is reported once per list (POST /v1/impressions, queued like events). Never an event.
   * Default true.
   */
  impressions?: boolean;
  /** Elements that stand for items, their id in data-item-id. Default "[data-item-id]". */
  itemSelector?: string;
  /** The item this page is about; default: <meta name="graphrec:item-id" content="...">. */
  pageItemId?: () => string | null | undefined;
  /** Events per request; a full batch is sent at once. Default 25 (server maximum 1000). */
  batchSize?: number;
  /** Longest wait (ms) between the first queued event and its send. Default 5000. */
  flushInterval?: number;
  /** Quiet time (ms) after the last event before sending. Default 1000. */
  debounce?: number;
  /** Most events kept in the retry queue (the oldest go first). Default 1000. */
  maxQueue?: number;
  /** Queued events older than this are dropped (the server forgets event ids after 30 days). Default 7. */
  maxAgeDays?: number;
  /** Upper bound of the exponential retry backoff (ms); Retry-After is honoured beyond it. Default 300000. */
  maxBackoff?: number;
  /** Minutes of inactivity that start a new context.session_id. Default 30. */
  sessionTimeout?: number;
  /** Prefix of the localStorage keys (and the cookie name). Default "graphrec". */
  storagePrefix?: string;
  /** context.device: a string, false for none, default "mobile" | "tablet" | "desktop" from the pointer and screen. */
  device?: string | false;
  /** Keep the anonymous id in a first-party cookie when localStorage is unavailable. Default true. */
  cookieFallback?: boolean;
  /** Called with every warning and error instead of console.warn/console.error. */
  onError?: (message: string, detail?: unknown) => void;
  /** Replaces browser globals (tests, web views): clock, fetch, sendBeacon, storage, observers. */
  env?: Partial<Env>;
}

export type ConsentState = "granted" | "denied" | "pending";

/** What the visitor agreed to: `analytics` (events, impressions, a visitor id) and `personalisation`
 * (lists made from their behaviour). */
export interface ConsentPurposes {
  analytics: boolean;
  personalisation: boolean;
}

/** A purchase's details: `price` per unit with its ISO 4217 `currency` (both or neither), `quantity`
 * (a positive integer, default 1) and the shop's `orderId`. The server sums price x quantity per list. */
export interface PurchaseDetails {
  price?: number;
  currency?: string;
  quantity?: number;
  orderId?: string;
}
/** One line of an order: an item id, or `{ itemId }` / `{ item_id }` with the line's own details. */
export type PurchaseLine = string | (({ itemId: string } | { item_id: string }) & PurchaseDetails);
export type PurchaseItems = PurchaseLine | ReadonlyArray<PurchaseLine>;

/** Where an event happened: `element` (its [data-page-section] and [data-recommendation-id] ancestors),
 * or `section` and `recommendationId` named directly. */
export interface TrackOptions {
  element?: Element;
  section?: string;
  recommendationId?: string;
}

/** A custom event's item (optional) and properties (see CustomProperties), and where it happened. */
export interface CustomEventOptions extends TrackOptions {
  itemId?: string;
  properties?: CustomProperties;
}

// what localStorage `<prefix>.consent` holds for each answer: [analytics, personalisation]
const ANSWERS: Record<string, [boolean, boolean]> = {
  granted: [true, true],
  analytics: [true, false],
  personalisation: [false, true],
  denied: [false, false],
};

const ACTIVITY: ActivityOptions = { minimumVisitLength: 5, heartbeatDelay: 10, idleTimeout: 30, elements: false };
const SCROLL: ScrollOptions = { minDepth: 0.25 };
const pick = <T>(v: boolean | Partial<T> | undefined, d: T): T | false => (v === false ? false : Object.assign({}, d, v === true ? {} : v));

/** Creates a tracker; it starts at once unless consent is required and not yet given. */
export function createTracker(options: TrackerOptions): Tracker {
  return new Tracker(options);
}

export class Tracker {
  private _env: Env;
  private _o: TrackerOptions;
  private _p: string;
  private _outbox: Outbox;
  private _engagement: Engagement;
  private _impressions: Impressions | null;
  private _client: Client;
  private _tokens: UserTokens;
  private _state: ConsentState;
  private _perso: boolean;
  private _aid: string | undefined;
  private _uid: string | undefined;
  private _running = false;
  private _destroyed = false;
  private _url = "";
  private _sess: { id: string; t: number } | undefined;
  private _off: (() => void)[] = [];
  private _unwrap: (() => void) | null = null;

  constructor(options: TrackerOptions) {
    if (!options || typeof options.endpoint !== "string") throw new TypeError("graphrec: createTracker needs { endpoint }");
    const o = (this._o = options);
    const env = (this._env = defaultEnv(o.env));
    const p = (this._p = o.storagePrefix || "graphrec");
    const endpoint = o.endpoint.replace(/\/+$/, "");
    const tokens = (this._tokens = new UserTokens(o.userToken, () => env.now()));
    this._outbox = new Outbox(env, {
      endpoint,
      key: o.key,
      storageKey: `${p}.queue`,
      batchSize: o.batchSize || 25,
      maxQueue: o.maxQueue || 1000,
      maxAgeMs: (o.maxAgeDays || 7) * 86400000,
      flushInterval: o.flushInterval ?? 5000,
      debounce: o.debounce ?? 1000,
      maxBackoff: o.maxBackoff || 300000,
      tokens: o.userToken !== undefined ? tokens : undefined,
      warn: (m, d) => this._warn(m, d),
      error: (m, d) => (o.onError ? o.onError(m, d) : env.log.error(m, d)),
    });
    this._client = createClient({ endpoint, key: o.key, userToken: tokens, fetch: env.fetch });
    const itemSelector = o.itemSelector || "[data-item-id]";
    this._engagement = new Engagement(
      env,
      pick(o.activity, ACTIVITY),
      pick(o.scroll, SCROLL),
      itemSelector,
      (el) => this._itemOf(el),
      (type, id, value, el) => void this.track(type, id, value, { element: el }),
    );
    this._impressions = o.impressions === false ? null
      : new Impressions(env, itemSelector, (el) => this._itemOf(el), (list, ids) => void this.impressions(list, ids));
    const answer = ANSWERS[this._store("consent") || ""] || (o.requireConsent ? null : ANSWERS.granted!);
    this._state = !answer ? "pending" : answer[0] ? "granted" : "denied";
    this._perso = !!answer && answer[1];
    if (this._state === "granted") {
      this._aid = this._store("anonymous_id") || this._cookie() || undefined;
      this._uid = this._store("user_id") || undefined;
    }

    // Always on, consent or not: a queued opt-out notice must still reach the server.
    const w = env.window;
    const d = env.document;
    const leave = (): void => {
      this._engagement.report();
      this._outbox.beacon();
    };
    this._listen(w, "pagehide", leave);
    this._listen(d, "visibilitychange", () => {
      const hidden = d!.visibilityState === "hidden";
      if (this._impressions) this._impressions._visibility(!hidden); // a hidden page shows no list
      if (hidden) leave();
    });
    this._listen(w, "online", () => void this._outbox.flush());
    this._outbox.prune();
    this._outbox.schedule();

    if (o.userId) this.identify(o.userId);
    if (this._state === "granted") this._start();
  }

  // ---- state ---------------------------------------------------------------------------------

  /** Analytics consent: "granted" (tracking), "denied" (opted out) or "pending" (requireConsent and no answer yet). */
  get consentState(): ConsentState {
    return this._state;
  }

  /** Both purposes as answered (pending: neither). */
  get purposes(): ConsentPurposes {
    return { analytics: this._state === "granted", personalisation: this._perso };
  }

  /** The anonymous visitor id (created on first use after consent), or undefined. */
  get anonymousId(): string | undefined {
    return this._aid;
  }

  get userId(): string | undefined {
    return this._uid;
  }

  /** Events and calls waiting to be sent (a copy), oldest first. */
  pending(): Op[] {
    return this._outbox.pending();
  }

  // ---- tracking ------------------------------------------------------------------------------

  /**
   * Queues one event; false (and a warning) when tracking is off or the event would be refused by
   * the server (bad id, unknown type, value missing or out of range). `element`: where it happened
   * (context.page_section from the nearest [data-page-section], context.recommendation_id from the
   * nearest [data-recommendation-id]); `section` and `recommendationId` name them directly.
   *
   * With a name and options instead (`track("wishlist_add", { itemId, properties })`): a custom event
   * of the shop's own name (type "custom"): logged by the server, counted per list and on the
   * dashboard, never an edge. The name is lower-case letters, digits and `_` (at most 64), not a
   * built-in type.
   */
  track(type: EventType, itemId: string, value?: number, opts?: TrackOptions): boolean;
  track(name: string, opts?: CustomEventOptions): boolean;
  track(type: string, item?: string | CustomEventOptions, value?: number, opts: TrackOptions = {}): boolean {
    if (typeof item === "string") return this._queue([this._event(type as EventType, item, value, opts)]);
    const o = item || {};
    return this._queue([this._event("custom", o.itemId, undefined, o, { name: type, properties: o.properties && { ...o.properties } })]);
  }

  /** A `view` of the page's item (default: pageItemId() or the graphrec:item-id meta tag); starts a
   * new page for dwell and scroll. Without an item nothing is sent (events always name an item). */
  pageView(itemId?: string): boolean {
    if (this._state !== "granted" || this._destroyed) return false;
    const id = itemId !== undefined ? itemId : this._pageItem();
    this._engagement.newPage(id && !idProblem(id.normalize("NFC")) ? id.normalize("NFC") : null);
    return id ? this.track("view", id) : false;
  }

  addToCart(itemId: string): boolean {
    return this.track("add_to_cart", itemId);
  }

  /**
   * One `purchase` event per line, all or none: an item id, a list of ids, or lines `{ itemId, price?,
   * currency?, quantity?, orderId? }` (or `item_id`); `details` applies to every line that does not say
   * otherwise, e.g. `purchase("sku-1", { price: 19.99, currency: "EUR", quantity: 2, orderId: "o-7" })`.
   */
  purchase(items: PurchaseItems, details: PurchaseDetails = {}): boolean {
    const lines: readonly PurchaseLine[] = Array.isArray(items) ? items : [items as PurchaseLine];
    return this._queue(lines.map((line) => {
      const d: PurchaseDetails & { itemId?: string; item_id?: string } = { ...details, ...(typeof line === "string" ? { itemId: line } : line) };
      return this._event("purchase", d.itemId || d.item_id, undefined, {}, { price: d.price, currency: d.currency, quantity: d.quantity, order_id: d.orderId });
    }));
  }

  /** A `rating` of 1-5 stars. */
  rate(itemId: string, stars: number): boolean {
    return this.track("rating", itemId, stars);
  }

  /** Sends what is queued now (resolves when the queue is empty or waiting for a retry). */
  flush(): Promise<void> {
    return this._outbox.flush();
  }

  // ---- identity ------------------------------------------------------------------------------

  /**
   * From now on events carry `user_id`; the server is asked (POST /v1/identify, after the queued
   * anonymous events) to merge this visitor's anonymous history into the user. A different user
   * than the current one starts from a fresh anonymous id (as after reset()).
   */
  identify(userId: string): boolean {
    const id = typeof userId === "string" ? userId.normalize("NFC") : userId;
    const problem = idProblem(id) || (id.startsWith("anon:") ? "may not start with 'anon:'" : null);
    if (problem) {
      this._warn(`graphrec: identify('${userId}') ignored: ${problem}`);
      return false;
    }
    if (id === this._uid) return true;
    if (this._uid) this.reset();
    this._uid = id;
    if (this._state !== "granted") return true; // remembered for this page only, stored on consent
    this._store("user_id", id);
    if (this._aid) this._outbox.add({ t: "identify", id: uuid(this._env), body: { anonymous_id: this._aid, user_id: id } });
    return true;
  }

  /** Logout: forgets the user and starts a new anonymous visitor (nothing links the two). */
  reset(): void {
    this._uid = this._aid = this._sess = undefined;
    this._tokens._drop();
    this._store("user_id", null);
    this._store("anonymous_id", null);
    this._store("session", null);
    if (this._cookie() !== null) this._cookie("");
  }

  // ---- consent -------------------------------------------------------------------------------

  /**
   * The visitor's answer: `consent(true)` grants both purposes, `consent(false)` neither (as optOut()),
   * `consent({ analytics, personalisation })` each on its own (one left out is not granted). Analytics
   * starts tracking; without it nothing is sent or stored but the answer (see optOut()).
   * Personalisation lets recommendations() ask for the user's or visitor's own list; without it,
   * recommendations() answers the generic trending list and names no one. Remembered in localStorage.
   */
  consent(granted: boolean | Partial<ConsentPurposes>): void {
    const p = typeof granted === "object" && granted ? granted : { analytics: !!granted, personalisation: !!granted };
    if (this._destroyed) return;
    if (!p.analytics) return this._optOut(!!p.personalisation);
    this._perso = !!p.personalisation;
    this._store("consent", this._perso ? "granted" : "analytics");
    if (this._state === "granted") return;
    this._state = "granted";
    if (this._uid) this._store("user_id", this._uid);
    this._start();
  }

  /**
   * Stops tracking, empties the queue, forgets the ids, remembers the refusal (of both purposes), and
   * tells the server (POST /v1/consent {user_id | anonymous_id, consent: false}, retried until answered).
   */
  optOut(): void {
    this._optOut(false);
  }

  // ---- recommendations -----------------------------------------------------------------------

  /**
   * Recommendations for a user; without one (`recommendations()` or `recommendations({ k: 8 })`), for
   * the current user, else the anonymous visitor (its id is made at consent, so this works at once).
   * Without personalisation consent (before any answer with requireConsent, or refused), or with no
   * one to ask for, it resolves to the generic trending list (GET /v1/items/popular, no id sent), in
   * this same shape with `personalised_from: "none"` and no `recommendation_id`.
   */
  recommendations(userId?: string | RecommendationOptions, opts?: RecommendationOptions): Promise<Recommendations> {
    if (typeof userId === "object") return this.recommendations(undefined, userId);
    const id = userId !== undefined ? userId : this._uid;
    if (!this._perso || (id === undefined && (this._state !== "granted" || this._destroyed))) return this._generic(opts);
    return id !== undefined ? this._client.recommendations(id, opts) : this._client.anonymousRecommendations(this._anonymous(), opts);
  }

  /**
   * Reports items of a recommendation list (its response's `recommendation_id`) as seen by the
   * current user or visitor: POST /v1/impressions, queued, batched per list and retried like events.
   * Rows marked with data-recommendation-id are reported by the tracker itself (see `impressions`
   * option); this is for lists drawn otherwise. At most 100 items a call. False (and a warning) when
   * tracking is off or an id would be refused.
   */
  impressions(recommendationId: string, itemIds: string[]): boolean {
    if (this._state !== "granted" || this._destroyed) return false;
    const ids = Array.from(itemIds || [], (id) => (typeof id === "string" ? id.normalize("NFC") : id));
    if (!(typeof recommendationId === "string" && REC_ID.test(recommendationId)) || !ids.length || ids.length > 100 || ids.some(idProblem)) {
      this._warn(`graphrec: impressions of '${recommendationId}' not sent: bad recommendation_id or item_ids`, ids);
      return false;
    }
    const who = this._uid ? { user_id: this._uid } : { anonymous_id: this._anonymous() };
    this._outbox.add({ t: "imp", id: uuid(this._env), body: { recommendation_id: recommendationId, item_ids: ids, ...who, timestamp: Math.floor(this._env.now()) } });
    return true;
  }

  similar(itemId: string, opts?: ListOptions): Promise<SimilarItems> {
    return this._client.similar(itemId, opts);
  }

  popular(opts?: ListOptions & { category?: string }): Promise<PopularItems> {
    return this._client.popular(opts);
  }

  /** The API client behind recommendations(), similar() and popular() (this tracker's endpoint, key and
   * user token): what the widgets read their other lists with. */
  get client(): Client {
    return this._client;
  }

  /** Stops everything and removes every listener (the queue stays stored for the next page). */
  destroy(): void {
    this._stop();
    this._destroyed = true;
    this._off.forEach((f) => f());
    this._off = [];
    this._outbox.close();
  }

  // ---- internals -----------------------------------------------------------------------------

  /** The event, checked (null and a warning when tracking is off or the server would refuse it). */
  private _event(type: WireEvent["type"], itemId: string | undefined, value: number | undefined,
                 opts: TrackOptions, extra: Partial<WireEvent> = {}): WireEvent | null {
    if (this._state !== "granted" || this._destroyed) return null;
    const env = this._env;
    const e: WireEvent = { event_id: uuid(env), type, timestamp: Math.floor(env.now()) };
    if (itemId !== undefined) e.item_id = typeof itemId === "string" ? itemId.normalize("NFC") : itemId;
    if (this._uid) e.user_id = this._uid;
    else e.anonymous_id = this._anonymous();
    if (value !== undefined && value !== null) e.value = value;
    for (const [k, v] of Object.entries(extra)) if (v !== undefined) (e as unknown as Record<string, unknown>)[k] = v;
    e.context = this._context(opts.element, opts.section, opts.recommendationId);
    const problem = eventProblem(e);
    if (!problem) return e;
    this._warn(`graphrec: ${extra.name || type} '${itemId}' not sent: ${problem}`);
    return null;
  }

  /** Queues every event, or none when one is missing (refused); false then. */
  private _queue(events: (WireEvent | null)[]): boolean {
    if (!events.length || events.includes(null)) return false;
    for (const e of events) this._outbox.add({ t: "e", e: e! });
    return true;
  }

  /** The generic list for a visitor without personalisation consent: trending items, in the shape of a
   * personal answer (cold_start, personalised_from "none", no recommendation_id), naming no one. */
  private async _generic(opts: RecommendationOptions = {}): Promise<Recommendations> {
    const p = await this._client.popular(opts);
    return { user_id: "", model_version: null, degraded: false, cold_start: true, personalised_from: "none",
             recommendation_id: null, data: p.data, count: p.count, next_cursor: p.next_cursor };
  }

  private _optOut(perso: boolean): void {
    const uid = this._uid;
    const who = uid ? { user_id: uid } : this._aid ? { anonymous_id: this._aid } : null;
    this._state = "denied"; // first, so that the final report of stop() queues nothing
    this._stop();
    this._outbox.clear();
    this.reset();
    this._perso = perso;
    if (perso) this._uid = uid; // the signed-in user's own lists, for this page only: never stored
    this._store("consent", perso ? "personalisation" : "denied");
    if (who) {
      this._outbox.add({ t: "consent", id: uuid(this._env), body: Object.assign(who, { consent: false }) });
      void this._outbox.flush();
    }
  }

  private _start(): void {
    if (this._running || this._destroyed) return;
    this._running = true;
    const o = this._o;
    const w = this._env.window;
    const d = this._env.document;
    if (!this._uid) this._anonymous(); // the visitor exists from consent on: recommendations() can ask for it
    this._engagement.start();
    if (this._impressions) this._impressions._start();
    if (o.clicks !== false && d) {
      const selector = typeof o.clicks === "string" ? o.clicks : "[data-track], a[data-item-id]";
      this._listen(d, "click", (ev) => this._click(ev, selector), "run");
    }
    if (o.spa !== false && w && w.history) {
      const h = w.history;
      const route = (): void => {
        if (this._here() !== this._url) this._env.setTimeout(() => this._route(), 0); // after the app renders
      };
      const wrap = (name: "pushState" | "replaceState"): (() => void) => {
        const orig = h[name];
        const ours = function (this: History, ...args: Parameters<History["pushState"]>): void {
          orig.apply(this, args);
          route();
        };
        h[name] = ours;
        return () => {
          if (h[name] === ours) h[name] = orig;
        };
      };
      const undo = [wrap("pushState"), wrap("replaceState")];
      this._unwrap = () => undo.forEach((f) => f());
      this._listen(w, "popstate", route, "run");
    }
    this._url = this._here();
    if (o.pageViews !== false) this.pageView();
    else this._engagement.newPage(this._pageItem());
  }

  private _stop(): void {
    if (!this._running) return;
    this._running = false;
    this._engagement.report();
    this._engagement.stop();
    if (this._impressions) this._impressions._stop();
    if (this._unwrap) this._unwrap();
    this._unwrap = null;
    this._off = this._off.filter((f) => !(f as { run?: boolean }).run || (f(), false));
  }

  private _route(): void {
    const url = this._here();
    if (!this._running || url === this._url) return;
    this._url = url;
    if (this._o.pageViews !== false) this.pageView();
    else this._engagement.newPage(this._pageItem());
  }

  private _here(): string {
    const l = this._env.window && this._env.window.location;
    return l ? l.pathname + l.search : "";
  }

  private _click(ev: Event, selector: string): void {
    const t = ev.target as Element | null;
    const el = t && typeof t.closest === "function" ? t.closest(selector) : null;
    if (!el) return;
    const type = (el.getAttribute("data-track") || "click") as EventType;
    if (!EVENT_TYPES.includes(type)) return this._warn(`graphrec: data-track="${type}": unknown type`);
    const holder = el.closest("[data-item-id]");
    const id = holder && holder.getAttribute("data-item-id");
    if (!id) return this._warn("graphrec: no data-item-id for a clicked element");
    const v = el.getAttribute("data-value");
    this.track(type, id, v === null ? undefined : Number(v), { element: el });
  }

  private _itemOf(el: Element): string | null {
    const id = el.getAttribute("data-item-id");
    return id && !idProblem(id.normalize("NFC")) ? id.normalize("NFC") : null;
  }

  private _pageItem(): string | null {
    if (this._o.pageItemId) return this._o.pageItemId() || null;
    const m = this._env.document && this._env.document.querySelector('meta[name="graphrec:item-id"]');
    return (m && m.getAttribute("content")) || null;
  }

  private _anonymous(): string {
    if (!this._aid) {
      this._aid = `a-${uuid(this._env)}`;
      this._store("anonymous_id", this._aid);
      if (!this._env.storage) this._cookie(this._aid);
    }
    return this._aid;
  }

  private _context(el?: Element, section?: string, list?: string): EventContext {
    const env = this._env;
    const w = env.window;
    const c: EventContext = { session_id: this._session() };
    const device = this._o.device === undefined ? this._device() : this._o.device;
    if (device) c.device = device.slice(0, 64);
    if (w && w.innerWidth >= 1 && w.innerHeight >= 1) {
      c.viewport = { width: Math.min(100000, Math.round(w.innerWidth)), height: Math.min(100000, Math.round(w.innerHeight)) };
    }
    const holder = !section && el && el.closest("[data-page-section]");
    const s = section || (holder && holder.getAttribute("data-page-section"));
    if (s) c.page_section = s.slice(0, 256);
    const rec = list || (el && listOf(el));
    if (rec && REC_ID.test(rec)) c.recommendation_id = rec; // the list the item was picked from: attribution
    return c;
  }

  private _device(): string | undefined {
    const w = this._env.window;
    if (!w || typeof w.matchMedia !== "function") return undefined;
    if (!w.matchMedia("(pointer: coarse)").matches) return "desktop";
    return Math.min(w.screen.width, w.screen.height) >= 600 ? "tablet" : "mobile";
  }

  private _session(): string {
    const now = this._env.now();
    let s = this._sess;
    try {
      s = JSON.parse(this._store("session") || "null") || s; // another tab may have moved it on
    } catch {
      /* start a new one */
    }
    if (!s || typeof s.id !== "string" || now - s.t > (this._o.sessionTimeout || 30) * 60000) s = { id: `s-${uuid(this._env)}`, t: now };
    s.t = now;
    this._sess = s;
    this._store("session", JSON.stringify(s));
    return s.id;
  }

  private _warn(message: string, detail?: unknown): void {
    if (this._o.onError) this._o.onError(message, detail);
    else this._env.log.warn(message, detail === undefined ? "" : detail);
  }

  private _listen(t: EventTarget | undefined, type: string, fn: (ev: Event) => void, run?: "run"): void {
    if (!t) return;
    const opts = { capture: true, passive: true };
    t.addEventListener(type, fn, opts);
    const off = Object.assign(() => t.removeEventListener(type, fn, opts), { run: !!run });
    this._off.push(off);
  }

  /** localStorage `${prefix}.${name}`: read (one argument), write, or remove (null); never throws. */
  private _store(name: string, value?: string | null): string | null {
    const st = this._env.storage;
    const k = `${this._p}.${name}`;
    try {
      if (st && value === undefined) return st.getItem(k);
      if (st && value === null) st.removeItem(k);
      else if (st) st.setItem(k, value!);
    } catch {
      /* blocked or full: ids live for this page only */
    }
    return null;
  }

  /** Reads the anonymous-id cookie (no argument), or writes it ("" deletes). Fallback only. */
  private _cookie(value?: string): string | null {
    const d = this._env.document;
    if (!d || this._o.cookieFallback === false) return null;
    const name = `${this._p}_aid`;
    try {
      if (value === undefined) {
        const m = d.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
        return m ? decodeURIComponent(m[1]!) : null;
      }
      d.cookie = `${name}=${encodeURIComponent(value)}; path=/; SameSite=Lax; max-age=${value ? 31536000 : 0}`;
    } catch {
      /* sandboxed */
    }
    return null;
  }
}
