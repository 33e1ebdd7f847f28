/**
 * One card of a widget: the page's `<template>` (or a plain default) cloned and filled from one listed
 * item, without ever parsing a value as markup. Titles, categories and links are catalogue data, which
 * a shop's staff or an importer wrote: a title `<img src=x onerror=...>` must show as those characters.
 * So values go in as text (`textContent`), links only as http(s) URLs, and the few attributes a value
 * may fill are named in an allow-list (no `on*`, no `style`, no URL-bearing attribute but href/src).
 *
 * Bindings, on any element of the template (the card's root included):
 *   data-field="title"                     text of the field
 *   data-href="url"  /  data-src="image_url"  a URL: space-separated alternatives, the first that gives
 *                                            an http(s) URL wins; each is a field (`url`, `image_url`,
 *                                            resolved against the widget's base-url) or a pattern with
 *                                            {field} placeholders (`/p/{item_id}`, values URI-encoded,
 *                                            resolved against the page); none: href/src removed (an
 *                                            <img> without one is hidden)
 *   data-attr="alt:title data-category:category"   attributes from fields (alt, title, lang, aria-*, data-*)
 */

/** What a card is made from: the fields every list's items carry. */
export interface CardItem {
  item_id: string;
  title?: string | null;
  categories?: string[];
  url?: string | null;
  image_url?: string | null;
  price?: number | null;
  currency?: string | null;
  score?: number;
  source?: string;
  available?: boolean;
}

/** The fields a template may name, each a string ("" when the item has none). */
export const FIELDS = ["item_id", "title", "price", "currency", "categories", "category", "url", "image_url", "score", "source", "position"] as const;
export type Field = (typeof FIELDS)[number];
export type Fields = Record<Field, string>;

const URL_FIELDS: readonly string[] = ["url", "image_url"];
const PLACEHOLDER = /\{([a-z_]+)\}/g;
/** Attributes a value may set: none runs code, loads anything or changes what the tracker reads. */
const SAFE_ATTR = /^(alt|title|lang|aria-[a-z-]+|data-[a-z0-9-]+)$/;
const RESERVED_ATTR = /^data-(item-id|recommendation-id|track|value|page-section|field|href|src|attr|list|position)$/;

/** The item's fields as text: `title` falls back to the id, `price` is formatted with its currency. */
export function fieldsOf(it: CardItem, position: number, locale: string | undefined): Fields {
  const cats = Array.isArray(it.categories) ? it.categories : [];
  return {
    item_id: it.item_id,
    title: it.title || it.item_id,
    price: priceText(it.price, it.currency, locale),
    currency: it.currency || "",
    categories: cats.join(", "),
    category: cats[0] || "",
    url: it.url || "",
    image_url: it.image_url || "",
    score: typeof it.score === "number" ? String(it.score) : "",
    source: it.source || "",
    position: String(position),
  };
}

function priceText(price: number | null | undefined, currency: string | null | undefined, locale: string | undefined): string {
  if (typeof price !== "number" || !isFinite(price)) return "";
  try {
    return currency ? new Intl.NumberFormat(locale, { style: "currency", currency }).format(price)
      : new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(price);
  } catch {
    return currency ? `${price.toFixed(2)} ${currency}` : price.toFixed(2); // an unknown locale or currency code
  }
}

/**
 * The first alternative of `spec` that makes an http(s) URL, or null. A catalogue field is resolved
 * against `catalogueBase` (where the catalogue's relative links point), a pattern against `pageBase`.
 */
export function urlOf(spec: string, f: Fields, catalogueBase: string, pageBase: string): string | null {
  for (const alt of spec.trim().split(/\s+/)) {
    if (!alt) continue;
    let raw: string;
    let base = pageBase;
    if (URL_FIELDS.includes(alt)) {
      raw = f[alt as Field];
      base = catalogueBase;
    } else {
      let missing = false;
      raw = alt.replace(PLACEHOLDER, (_, name: string) => {
        const v = (f as Record<string, string>)[name];
        if (!v) missing = true;
        return encodeURIComponent(v || "");
      });
      if (missing) continue;
    }
    if (!raw) continue;
    try {
      const u = new URL(raw, base);
      if (u.protocol === "http:" || u.protocol === "https:") return u.href;
    } catch {
      /* not a URL: the next alternative */
    }
  }
  return null;
}

/** Fills the bindings of `root` and its descendants from `f` (see the module comment). */
export function bind(root: Element, f: Fields, catalogueBase: string, pageBase: string): void {
  const els = [root, ...Array.from(root.querySelectorAll("[data-field], [data-href], [data-src], [data-attr]"))];
  for (const el of els) {
    const field = el.getAttribute("data-field");
    if (field !== null) el.textContent = (f as Record<string, string>)[field] ?? "";
    for (const [binding, attr] of [["data-href", "href"], ["data-src", "src"]] as const) {
      const spec = el.getAttribute(binding);
      if (spec === null) continue;
      const url = urlOf(spec, f, catalogueBase, pageBase);
      if (url) el.setAttribute(attr, url);
      else {
        el.removeAttribute(attr);
        if (attr === "src" && el.tagName === "IMG") el.setAttribute("hidden", "");
      }
    }
    const pairs = el.getAttribute("data-attr");
    for (const pair of pairs ? pairs.trim().split(/\s+/) : []) {
      const at = pair.indexOf(":");
      const name = at > 0 ? pair.slice(0, at).toLowerCase() : "";
      if (SAFE_ATTR.test(name) && !RESERVED_ATTR.test(name)) el.setAttribute(name, (f as Record<string, string>)[pair.slice(at + 1)] ?? "");
    }
  }
}

/**
 * A card for item `f`: a clone of the template's content (one root element; several are wrapped in a
 * <div>), bound, with `data-item-id` and `data-position` on its root. Links without `data-track` get
 * `data-track="click"`, and a card with no `data-track` anywhere gets it on its root: the tracker's
 * delegated click listener then reports clicks on the card, naming the list it is in.
 */
export function makeCard(doc: Document, template: HTMLTemplateElement | null, f: Fields, catalogueBase: string, pageBase: string): Element {
  const content = template ? (doc.importNode(template.content, true) as DocumentFragment) : defaultCard(doc);
  const roots = Array.from(content.children);
  let root: Element;
  if (roots.length === 1) root = roots[0]!;
  else {
    root = doc.createElement("div");
    root.append(content);
  }
  bind(root, f, catalogueBase, pageBase);
  root.setAttribute("data-item-id", f.item_id);
  root.setAttribute("data-position", f.position);
  root.querySelectorAll("a:not([data-track])").forEach((a) => a.setAttribute("data-track", "click"));
  if (!root.hasAttribute("data-track") && !root.querySelector("[data-track]")) root.setAttribute("data-track", "click");
  return root;
}

/** The card when the page gives no template: a link with the picture and title, and the price. */
function defaultCard(doc: Document): DocumentFragment {
  const el = (tag: string, attrs: Record<string, string>, ...children: Node[]): Element => {
    const e = doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    e.append(...children);
    return e;
  };
  const frag = doc.createDocumentFragment();
  frag.append(el("article", { class: "graphrec-card" },
    el("a", { class: "graphrec-link", "data-href": "url" },
      el("img", { class: "graphrec-image", "data-src": "image_url", alt: "", loading: "lazy" }),
      el("span", { class: "graphrec-title", "data-field": "title" })),
    el("span", { class: "graphrec-price", "data-field": "price" })));
  return frag;
}
