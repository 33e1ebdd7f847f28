/**
 * The custom element behind every widget. It renders into its own light DOM, not a shadow root, on
 * purpose: the tracker finds recommendation rows and cards with document queries and one delegated
 * click listener, the page styles cards with its own CSS, and a card's `<a>` is an ordinary link.
 *
 * Its children: an optional `<template>` (the card), an optional element marked `data-list` (where the
 * cards go; one is appended when there is none), and the page's own fallback content: the children
 * marked `data-fallback`, or, when none is, every other child. It shows until a list arrives and
 * whenever neither the list nor its fallback list has an item (hidden, not removed, while a list shows).
 *
 * A render asks for the widget's own list, then (nothing, or a failure) for its fallback list, then
 * shows the page's children. The list's `recommendation_id`, when it has one, goes on the `data-list`
 * element as `data-recommendation-id`: the tracker reports its cards seen as impressions of that list
 * and clicks in it name it. A fallback list never carries one (its items are not that list's).
 * Renders are coalesced (attribute changes of one task make one) and a newer one wins over a slower
 * older one. Each ends with a `graphrec:render` event (bubbles) whose detail says what is shown.
 */
import { LIST_ATTR, REC_ID } from "../impressions.js";
import { fieldsOf, makeCard } from "./card.js";
import type { CardItem } from "./card.js";
import { fallbackList, ownList } from "./lists.js";
import type { ListAnswer, ListName, Sources } from "./lists.js";
import { OBSERVED, readSettings } from "./settings.js";
import type { FallbackName } from "./settings.js";

/** What `graphrec:render` reports: `state` "list" (the widget's own list), "fallback" (its fallback
 * list), "children" (the page's fallback content) or "empty" (nothing to show). */
export interface RenderDetail {
  state: "list" | "fallback" | "children" | "empty";
  /** Which list is shown (null: none). */
  list: ListName | null;
  items: CardItem[];
  recommendationId: string | null;
  /** The API's answer of the list shown. */
  response: unknown;
  /** Why the widget's own list is not shown: a failed call (GraphrecError), or null. */
  error: unknown;
}

export interface WidgetElement extends HTMLElement {
  /** Renders again (the calls and attribute changes of one task make one render); resolves when that
   * render is done. */
  refresh(): Promise<void>;
  /** Resolves once no render is queued or running (the latest one is done). */
  settled(): Promise<void>;
  /** What the latest render showed, or null before the first. */
  readonly rendered: RenderDetail | null;
}

export interface ElementContext {
  sources: Sources;
  /** The connected widgets (each adds itself on connect, removes itself on disconnect). */
  live: Set<WidgetElement>;
  warn: (message: string) => void;
}

/** A custom element class for list `name` (default fallback `fallback`), extending `Base`. */
export function widgetClass(Base: typeof HTMLElement, name: ListName, fallback: FallbackName, ctx: ElementContext): CustomElementConstructor {
  return class GraphrecWidget extends Base implements WidgetElement {
    static get observedAttributes(): string[] {
      return OBSERVED;
    }

    private _seq = 0;
    private _queued: Promise<void> | null = null;
    private _latest: Promise<void> = Promise.resolve();
    private _rendered: RenderDetail | null = null;
    /** The page's fallback children, and whether each was hidden by the page itself. */
    private _ownHidden = new WeakMap<Element, boolean>();

    get rendered(): RenderDetail | null {
      return this._rendered;
    }

    connectedCallback(): void {
      ctx.live.add(this);
      void this.refresh();
    }

    disconnectedCallback(): void {
      ctx.live.delete(this);
      this._seq += 1; // an answer that comes back now is dropped
    }

    attributeChangedCallback(_name: string, old: string | null, value: string | null): void {
      if (old !== value && this.isConnected) void this.refresh();
    }

    refresh(): Promise<void> {
      if (!this._queued) {
        this._queued = this._latest = Promise.resolve().then(() => {
          this._queued = null;
          return this._render();
        });
      }
      return this._queued;
    }

    settled(): Promise<void> {
      const p = this._latest;
      return p.then(() => (p === this._latest ? undefined : this.settled()));
    }

    private async _render(): Promise<void> {
      if (!this.isConnected) return;
      const seq = ++this._seq;
      const doc = this.ownerDocument;
      const w = readSettings(this, fallback, doc.baseURI, ctx.warn);
      let shown: ListAnswer | null = null;
      let error: unknown = null;
      let state: RenderDetail["state"] = "list";
      this.setAttribute("aria-busy", "true");
      try {
        if (!w.requireConsent || ctx.sources.tracker.consentState === "granted") {
          try {
            shown = await ownList(name, ctx.sources, w);
          } catch (e) {
            error = e;
          }
          if (!shown || !shown.items.length) {
            state = "fallback";
            try {
              shown = await fallbackList(w.fallback, ctx.sources, w);
            } catch (e) {
              shown = null;
              error = error || e;
            }
          }
        }
      } finally {
        if (seq === this._seq) this.removeAttribute("aria-busy");
      }
      if (seq !== this._seq || !this.isConnected) return; // a newer render, or gone meanwhile
      const box = this._box();
      const items = shown ? shown.items.slice(0, w.k) : [];
      if (items.length) {
        const template = (Array.from(this.children).find((c) => c.tagName === "TEMPLATE") as HTMLTemplateElement | undefined) || null;
        const cards = items.map((it, i) => makeCard(doc, template, fieldsOf(it, i + 1, w.locale || doc.documentElement.lang || undefined), w.catalogueBase, doc.baseURI));
        const rec = shown!.recommendationId;
        if (rec && REC_ID.test(rec)) box.setAttribute(LIST_ATTR, rec);
        else box.removeAttribute(LIST_ATTR);
        box.replaceChildren(...cards);
        box.hidden = false;
        this._fallbackChildren(box).forEach((c) => this._hide(c));
      } else {
        box.removeAttribute(LIST_ATTR);
        box.replaceChildren();
        box.hidden = true;
        const children = this._fallbackChildren(box);
        children.forEach((c) => this._show(c));
        state = children.length ? "children" : "empty";
      }
      this.setAttribute("data-state", state);
      this.setAttribute("data-shows", items.length ? shown!.list : "");
      const detail: RenderDetail = {
        state, list: items.length ? shown!.list : null, items,
        recommendationId: items.length ? box.getAttribute(LIST_ATTR) : null,
        response: items.length ? shown!.response : null, error,
      };
      this._rendered = detail;
      this.dispatchEvent(new (doc.defaultView as Window & typeof globalThis).CustomEvent("graphrec:render", { bubbles: true, detail }));
    }

    /** The element the cards go in: the page's `[data-list]`, else one of ours. */
    private _box(): HTMLElement {
      let box = this.querySelector("[data-list]") as HTMLElement | null;
      if (!box) {
        box = this.ownerDocument.createElement("div");
        box.className = "graphrec-list";
        box.setAttribute("data-list", "");
        this.append(box);
      }
      return box;
    }

    /** The page's fallback content: its children marked `data-fallback`, or, when none is, every child
     * element but the template and the one holding the list. */
    private _fallbackChildren(box: Element): Element[] {
      const kids = Array.from(this.children).filter((c) => c.tagName !== "TEMPLATE" && !c.contains(box));
      const marked = kids.filter((c) => c.hasAttribute("data-fallback"));
      return marked.length ? marked : kids;
    }

    private _hide(el: Element): void {
      if (!this._ownHidden.has(el)) this._ownHidden.set(el, el.hasAttribute("hidden"));
      el.setAttribute("hidden", "");
    }

    private _show(el: Element): void {
      const pageHid = this._ownHidden.get(el);
      if (pageHid === undefined) return; // never hidden by us: as the page left it
      if (!pageHid) el.removeAttribute("hidden");
      this._ownHidden.delete(el);
    }
  };
}
