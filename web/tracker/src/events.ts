import { idProblem } from "./ids.js";

/** Event types the server knows (graphrec.event_types). */
export type EventType =
  | "view" | "click" | "hover" | "scroll" | "dwell" | "add_to_cart" | "purchase"
  | "rating" | "like" | "share" | "video_play" | "dislike";

export const EVENT_TYPES: readonly EventType[] = [
  "view", "click", "hover", "scroll", "dwell", "add_to_cart", "purchase",
  "rating", "like", "share", "video_play", "dislike",
];

/** Types that need a value, with its closed range (unit: seconds, depth fraction, stars, seconds). */
export const VALUE_RANGES: Readonly<Partial<Record<EventType, readonly [number, number]>>> = {
  dwell: [0, 86400],
  scroll: [0, 1],
  rating: [1, 5],
  video_play: [0, 86400],
};

export interface Viewport { width: number; height: number }

/** `context` as the server validates it (not stored on edges). */
export interface EventContext {
  session_id?: string;
  device?: string;
  page_section?: string;
  viewport?: Viewport;
  /** The recommendation list the item was picked from (its response's recommendation_id): the
   * server attributes the event (click, add_to_cart, purchase) to that list. */
  recommendation_id?: string;
}

/** A custom event's properties: at most 20, names as letters, digits and `_` (starting with a letter,
 * at most 64), values text (at most 256 characters), finite numbers or booleans. */
export type CustomProperties = Record<string, string | number | boolean>;

/** One event exactly as it goes over the wire (POST /v1/events). */
export interface WireEvent {
  event_id: string;
  user_id?: string;
  anonymous_id?: string;
  /** Every event but a custom one names an item. */
  item_id?: string;
  /** A built-in type, or "custom" (with `name`). */
  type: EventType | "custom";
  /** epoch milliseconds */
  timestamp: number;
  value?: number;
  context?: EventContext;
  /** purchase only: price per unit, with its ISO 4217 currency; quantity (default 1); the shop's order id. */
  price?: number;
  currency?: string;
  quantity?: number;
  order_id?: string;
  /** custom only: the shop's name of the action (lower-case letters, digits, `_`; at most 64). */
  name?: string;
  properties?: CustomProperties;
}

const NAME = /^[a-z][a-z0-9_]{0,63}$/;
const KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const PURCHASE_FIELDS = ["price", "currency", "quantity", "order_id"] as const;

/** Why an event would be refused by the server (`field: reason`), or null. */
export function eventProblem(e: WireEvent): string | null {
  const actor = e.user_id !== undefined ? "user_id" : "anonymous_id";
  const custom = e.type === "custom";
  if ((e.user_id === undefined) === (e.anonymous_id === undefined)) return "actor: give exactly one of user_id or anonymous_id";
  for (const f of ["event_id", actor, "item_id", "order_id"] as const) {
    const optional = f === "order_id" || (f === "item_id" && custom);
    const p = optional && e[f] === undefined ? null : idProblem(e[f]);
    if (p) return `${f} ${p}`;
  }
  if (e.user_id !== undefined && e.user_id.startsWith("anon:")) return "user_id: 'anon:' is reserved";
  if (!custom && !EVENT_TYPES.includes(e.type as EventType)) return `type: unknown '${e.type}'`;
  const n = e.name;
  if (custom ? !NAME.test(n || "") || n === "custom" || EVENT_TYPES.includes(n as EventType) : n !== undefined || e.properties !== undefined) {
    return `name: '${n}' (custom events only: a-z, 0-9, _, not a built-in type)`;
  }
  const props = e.properties || {};
  const keys = Object.keys(props);
  if (keys.length > 20 || keys.some((k) => {
    const v = props[k];
    return !KEY.test(k) || (typeof v === "string" ? [...v].length > 256 : typeof v === "number" ? !isFinite(v) : typeof v !== "boolean");
  })) return "properties: at most 20 named a-z, 0-9, _; text (256), finite numbers, booleans";
  const p = e.price;
  const q = e.quantity;
  if (e.type !== "purchase" ? PURCHASE_FIELDS.some((f) => e[f] !== undefined)
      : (p === undefined) !== (e.currency === undefined) || !(p === undefined || (typeof p === "number" && p >= 0 && p <= 1e9))
        || !(e.currency === undefined || /^[A-Z]{3}$/.test(e.currency)) || !(q === undefined || (Number.isInteger(q) && q > 0 && q <= 1e5))) {
    return "price: purchases only; price 0-1e9 with an ISO 4217 currency, quantity a positive integer";
  }
  const range = VALUE_RANGES[e.type as EventType];
  const v = e.value;
  if (range ? !(typeof v === "number" && v >= range[0] && v <= range[1]) : v !== undefined) {
    return `value: ${e.type} ${range ? `needs a number in [${range}]` : "takes no value"}, got ${v}`;
  }
  if (!Number.isInteger(e.timestamp) || e.timestamp < 946684800000) return "timestamp: not epoch ms";
  return null;
}
