/**
 * Ready-made recommendation widgets: framework-free custom elements bound to the page's tracker.
 *
 *   import { createTracker } from "@graphrec/tracker";
 *   import { defineWidgets } from "@graphrec/tracker/widgets";
 *   const tracker = createTracker({ endpoint, key, requireConsent: true });
 *   defineWidgets({ tracker });   // <graphrec-recommendations>, -similar, -trending, -bought-together
 *
 * The tracker does the rest: consent, the visitor, impressions of the cards seen, clicks naming the
 * list. See the README's "Widgets" section.
 */
import type { Client } from "../client.js";
import type { Tracker } from "../tracker.js";
import { widgetClass } from "./element.js";
import type { ElementContext, WidgetElement } from "./element.js";
import type { ListName } from "./lists.js";
import type { FallbackName } from "./settings.js";

export type { RenderDetail, WidgetElement } from "./element.js";
export type { CardItem, Field } from "./card.js";
export { FIELDS } from "./card.js";
export type { ListName } from "./lists.js";
export type { FallbackName } from "./settings.js";

export interface WidgetsOptions {
  /** The page's tracker: its consent, visitor and user, its impressions and click tracking. */
  tracker: Tracker;
  /** Where shared lists (trending, similar, bought together) are read. Default: `tracker.client`. */
  client?: Client;
  /** Tag names are `<prefix>-recommendations` etc. Default "graphrec". */
  prefix?: string;
  /** Re-render the personal widgets (and those with `require-consent`) when the tracker's consent,
   * user or visitor changes through consent(), optOut(), identify() or reset(). Default true. */
  followTracker?: boolean;
  /** Warnings (malformed attributes) instead of console.warn. */
  onError?: (message: string) => void;
  /** The window whose custom element registry and HTMLElement are used. Default: the global one. */
  window?: Window;
}

export interface Widgets {
  /** The tag name of each widget. */
  tags: Record<ListName, string>;
  /** Renders every connected widget again; resolves when all are done. */
  refresh(): Promise<void>;
  /** Resolves once no connected widget has a render queued or running. */
  settled(): Promise<void>;
}

/** Each widget's list and its default fallback (a shared list needing no visitor). */
const KINDS: [ListName, FallbackName][] = [
  ["recommendations", "trending"],
  ["similar", "trending"],
  ["trending", "none"],
  ["bought-together", "trending"],
];
const FOLLOWED = ["consent", "optOut", "identify", "reset"] as const;

/** Defines the four widgets in the window's custom element registry (once per prefix: a tag name can
 * be defined only once) and binds them to `tracker`. */
export function defineWidgets(o: WidgetsOptions): Widgets {
  const w = (o.window || globalThis) as Window & typeof globalThis;
  const tracker = o.tracker;
  if (!tracker || typeof tracker.recommendations !== "function") throw new TypeError("graphrec: defineWidgets needs { tracker }");
  const registry = w.customElements;
  if (!registry) throw new TypeError("graphrec: this browser has no custom elements (customElements)");
  const prefix = o.prefix || "graphrec";
  const warn = o.onError || ((m: string) => w.console.warn(m));
  const ctx: ElementContext = { sources: { tracker, client: o.client || tracker.client }, live: new Set<WidgetElement>(), warn };
  const tags = {} as Record<ListName, string>;
  for (const [name] of KINDS) {
    const tag = (tags[name] = `${prefix}-${name}`);
    if (registry.get(tag)) throw new Error(`graphrec: <${tag}> is already defined (defineWidgets runs once per prefix; the script-tag build runs it itself when the tracker's tag has data-endpoint)`);
  }
  for (const [name, fallback] of KINDS) registry.define(tags[name], widgetClass(w.HTMLElement, name, fallback, ctx));

  const refresh = async (which: (el: WidgetElement) => boolean): Promise<void> => {
    await Promise.all(Array.from(ctx.live).filter(which).map((el) => el.refresh()));
  };
  if (o.followTracker !== false) {
    const who = (): string =>
      `${tracker.consentState}|${tracker.purposes.personalisation}|${tracker.userId || ""}|${tracker.anonymousId || ""}`;
    const personal = (el: WidgetElement): boolean => el.tagName.toLowerCase() === tags.recommendations || el.hasAttribute("require-consent");
    const methods = tracker as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const m of FOLLOWED) {
      const original = methods[m];
      if (typeof original !== "function") continue;
      // on this tracker only (not its class): after a call that changed who is asking, the personal lists reload
      methods[m] = function (this: unknown, ...args: unknown[]): unknown {
        const before = who();
        const result = original.apply(this, args);
        if (who() !== before) void refresh(personal);
        return result;
      };
    }
  }
  return {
    tags,
    refresh: () => refresh(() => true),
    settled: async () => void (await Promise.all(Array.from(ctx.live, (el) => el.settled()))),
  };
}
