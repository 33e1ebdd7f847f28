export { createTracker, Tracker } from "./tracker.js";
export type {
  TrackerOptions, ConsentState, ConsentPurposes, PurchaseItems, PurchaseLine, PurchaseDetails, TrackOptions, CustomEventOptions,
} from "./tracker.js";
export type { ActivityOptions, ScrollOptions } from "./activity.js";
export { createClient, GraphrecError } from "./client.js";
export type {
  Client, ClientOptions, ListOptions, RecommendationOptions, Recommendations, RecommendedItem, SimilarItems, PopularItems,
  ModelInfo, CatalogueItem, CatalogueItems, Categories, BoughtTogether,
} from "./client.js";
export { idProblem, normaliseId, MAX_ID_LENGTH } from "./ids.js";
export { EVENT_TYPES, VALUE_RANGES, eventProblem } from "./events.js";
export type { EventType, WireEvent, EventContext, Viewport, CustomProperties } from "./events.js";
export type { Op as QueuedOp } from "./outbox.js";
export type { Env } from "./env.js";
export type { UserTokenSource } from "./token.js";
export const version = "0.1.0";
