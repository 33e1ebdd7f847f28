/**
 * Where each widget's items come from: its own list, then its fallback list. Personal lists go through
 * the tracker (the visitor or signed-in user it knows, with the user's token) and only with consent;
 * shared lists (trending, similar, bought together) name nobody, so they go through the tracker's
 * client and need no visitor.
 */
import type { Client, ListOptions } from "../client.js";
import type { Tracker } from "../tracker.js";
import type { CardItem } from "./card.js";
import type { FallbackName, WidgetSettings } from "./settings.js";

export type ListName = "recommendations" | "similar" | "trending" | "bought-together";

/** One list's answer as a widget shows it. `recommendationId`: only personal lists have one (shared
 * lists are cached answers, the same for everyone, so there is no per-visitor list to report). */
export interface ListAnswer {
  list: ListName;
  items: CardItem[];
  recommendationId: string | null;
  response: unknown;
}

/** What a widget reads from: the page's tracker, and the client for shared lists. */
export interface Sources {
  tracker: Tracker;
  client: Client;
}

const granted = (s: Sources): boolean => s.tracker.consentState === "granted";

function options(w: WidgetSettings, alsoExclude: string[] = []): ListOptions & { category?: string } {
  const exclude = [...w.exclude, ...alsoExclude.filter((id) => !w.exclude.includes(id))];
  return { k: w.k, category: w.category, exclude, priceMin: w.priceMin, priceMax: w.priceMax, attributes: w.attributes };
}

/** Items the shop does not sell now are never shown (the server leaves them out already). */
const shown = (items: CardItem[]): CardItem[] => items.filter((it) => it && typeof it.item_id === "string" && it.available !== false);

/**
 * The widget's own list, or null when there is nothing to ask: a personal list before consent (there
 * is no visitor) or without the personalisation purpose (the visitor's list may not be made: the
 * widget shows its fallback, as before consent), a similar or bought-together list without an item.
 * Rejects when the call fails.
 */
export async function ownList(name: ListName, s: Sources, w: WidgetSettings): Promise<ListAnswer | null> {
  switch (name) {
    case "recommendations": {
      if (!granted(s) || !s.tracker.purposes.personalisation) return null;
      await s.tracker.flush().catch(() => undefined); // what the visitor just did counts in the list
      const r = await s.tracker.recommendations({ ...options(w), diversity: w.diversity });
      return { list: name, items: shown(r.data), recommendationId: r.recommendation_id || null, response: r };
    }
    case "similar": {
      if (!w.items.length) return null;
      const r = await s.client.similar(w.items[0]!, options(w));
      return { list: name, items: shown(r.data), recommendationId: null, response: r };
    }
    case "bought-together": {
      if (!w.items.length) return null;
      const r = await s.client.boughtTogether(w.items.length === 1 ? w.items[0]! : w.items, options(w));
      return { list: name, items: shown(r.data), recommendationId: null, response: r };
    }
    case "trending": {
      const r = await s.client.popular(options(w));
      return { list: name, items: shown(r.data), recommendationId: null, response: r };
    }
  }
}

/** The fallback list, with the same filters and without the widget's own item(s); null for "none". */
export async function fallbackList(name: FallbackName, s: Sources, w: WidgetSettings): Promise<ListAnswer | null> {
  if (name === "none") return null;
  if (name === "similar") {
    if (!w.items.length) return null;
    const r = await s.client.similar(w.items[0]!, options(w, w.items));
    return { list: "similar", items: shown(r.data), recommendationId: null, response: r };
  }
  const r = await s.client.popular(options(w, w.items));
  return { list: "trending", items: shown(r.data), recommendationId: null, response: r };
}
