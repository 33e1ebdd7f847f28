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

/** One event exactly as it goes over the wire (POST /v1/events). */
export interface WireEvent {
  event_id: string;
  user_id?: string;
  anonymous_id?: string;
  item_id: string;
  type: EventType;
  /** epoch milliseconds */
  timestamp: number;
  value?: number;
  context?: EventContext;
}

/** Why an event would be refused by the server (`field: reason`), or null. */
export function eventProblem(e: WireEvent): string | null {
  const actor = e.user_id !== undefined ? "user_id" : "anonymous_id";
  if ((e.user_id === undefined) === (e.anonymous_id === undefined)) return "actor: give exactly one of user_id or anonymous_id";
  for (const f of ["event_id", "item_id", actor] as const) {
    const p = idProblem(e[f]);
    if (p) return `${f} ${p}`;
  }
  if (e.user_id !== undefined && e.user_id.startsWith("anon:")) return "user_id: 'anon:' is reserved";
  if (!EVENT_TYPES.includes(e.type)) return `type: unknown '${e.type}'`;
  const range = VALUE_RANGES[e.type];
  const v = e.value;
  if (range ? !(typeof v === "number" && v >= range[0] && v <= range[1]) : v !== undefined) {
    return `value: ${e.type} ${range ? `needs a number in [${range}]` : "takes no value"}, got ${v}`;
  }
  if (!Number.isInteger(e.timestamp) || e.timestamp < 946684800000) return "timestamp: not epoch ms";
  return null;
}
