/**
 * A widget's settings, read from its HTML attributes each time it renders (attributes are the page's
 * interface: a server-rendered page, a framework binding or `el.setAttribute` all change a list the
 * same way). A malformed value is left out with a warning, never sent: the server would refuse it and
 * the widget would show its fallback for a typo.
 */
import { idProblem } from "../ids.js";

export type FallbackName = "trending" | "similar" | "none";

export interface WidgetSettings {
  /** How many items (1-100). Default 10. */
  k: number;
  category: string | undefined;
  /** Item ids never shown (e.g. the cart). */
  exclude: string[];
  priceMin: number | undefined;
  priceMax: number | undefined;
  attributes: Record<string, string> | undefined;
  /** recommendations only: 0 relevance ... 1 spread. */
  diversity: number | undefined;
  /** similar / bought-together: the item(s) the list is about (`item`, or bought-together's `items`). */
  items: string[];
  fallback: FallbackName;
  /** Ask for nothing at all before consent (the page's own children show meanwhile). */
  requireConsent: boolean;
  /** Where the catalogue's relative `url` / `image_url` point. */
  catalogueBase: string;
  locale: string | undefined;
}

/** Every attribute a widget reads: a change re-renders it. */
export const OBSERVED = ["k", "category", "exclude", "price-min", "price-max", "attributes", "diversity", "item", "items", "fallback", "require-consent", "base-url", "locale"];

const DEFAULT_K = 10;

function ids(raw: string | null, name: string, warn: (m: string) => void): string[] {
  const out: string[] = [];
  for (const part of (raw || "").split(",")) {
    const id = part.trim().normalize("NFC");
    if (!id) continue;
    const problem = idProblem(id);
    if (problem) warn(`graphrec: ${name}: '${id}' left out: ${problem}`);
    else if (!out.includes(id)) out.push(id);
  }
  return out;
}

/** `item="..."`: one id, commas and all. */
function oneId(raw: string | null, warn: (m: string) => void): string[] {
  const id = (raw || "").trim().normalize("NFC");
  const problem = id ? idProblem(id) : "must not be empty";
  if (problem) warn(`graphrec: item="${raw}" ignored: ${problem}`);
  return problem ? [] : [id];
}

function num(raw: string | null, name: string, warn: (m: string) => void, ok: (n: number) => boolean): number | undefined {
  if (raw === null || raw.trim() === "") return undefined;
  const n = Number(raw);
  if (isFinite(n) && ok(n)) return n;
  warn(`graphrec: ${name}="${raw}" ignored: not a number in range`);
  return undefined;
}

/** `attributes="brand:acme; size:M"`: name:value pairs separated by ';' (values may hold ',' and ':'). */
function attributePairs(raw: string | null, warn: (m: string) => void): Record<string, string> | undefined {
  if (!raw || !raw.trim()) return undefined;
  const out: Record<string, string> = {};
  for (const part of raw.split(";")) {
    const p = part.trim();
    if (!p) continue;
    const at = p.indexOf(":");
    const name = at > 0 ? p.slice(0, at).trim() : "";
    const value = at > 0 ? p.slice(at + 1).trim() : "";
    if (/^[a-z][a-z0-9_]{0,39}$/.test(name) && value) out[name] = value;
    else warn(`graphrec: attributes: '${p}' ignored: write name:value (name: a-z, 0-9, _)`);
  }
  return Object.keys(out).length ? out : undefined;
}

/** The settings of `el` (a widget whose default fallback is `fallback`), `pageBase` the document's URL. */
export function readSettings(el: Element, fallback: FallbackName, pageBase: string, warn: (m: string) => void): WidgetSettings {
  const a = (n: string): string | null => el.getAttribute(n);
  const k = num(a("k"), "k", warn, (n) => Number.isInteger(n) && n >= 1 && n <= 100) ?? DEFAULT_K;
  const fb = a("fallback");
  const fbName: FallbackName = fb === "trending" || fb === "similar" || fb === "none" ? fb : fallback;
  if (fb !== null && fb !== fbName) warn(`graphrec: fallback="${fb}" ignored: trending, similar or none`);
  let catalogueBase = pageBase;
  const base = a("base-url");
  if (base) {
    try {
      catalogueBase = new URL(base, pageBase).href;
    } catch {
      warn(`graphrec: base-url="${base}" ignored: not a URL`);
    }
  }
  const priceMin = num(a("price-min"), "price-min", warn, (n) => n >= 0);
  const priceMax = num(a("price-max"), "price-max", warn, (n) => n >= 0);
  return {
    k,
    category: a("category") || undefined,
    exclude: ids(a("exclude"), "exclude", warn),
    priceMin,
    priceMax,
    attributes: attributePairs(a("attributes"), warn),
    diversity: num(a("diversity"), "diversity", warn, (n) => n >= 0 && n <= 1),
    items: el.hasAttribute("item") ? oneId(a("item"), warn) : ids(a("items"), "items", warn),
    fallback: fbName,
    requireConsent: el.hasAttribute("require-consent"),
    catalogueBase,
    locale: a("locale") || undefined,
  };
}
