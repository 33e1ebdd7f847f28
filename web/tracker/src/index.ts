export { createTracker, Tracker } from "./tracker";
export type { TrackerOptions, ConsentState, PurchaseItems } from "./tracker";
export type { ActivityOptions, ScrollOptions } from "./activity";
export { createClient, GraphrecError } from "./client";
export type {
  Client, ClientOptions, ListOptions, RecommendationOptions, Recommendations, RecommendedItem, SimilarItems, PopularItems,
  ModelInfo, CatalogueItem, CatalogueItems, Categories,
} from "./client";
export { idProblem, normaliseId, MAX_ID_LENGTH } from "./ids";
export { EVENT_TYPES, VALUE_RANGES, eventProblem } from "./events";
export type { EventType, WireEvent, EventContext, Viewport } from "./events";
export type { Op as QueuedOp } from "./outbox";
export type { Env } from "./env";
export type { UserTokenSource } from "./token";
export const version = "0.1.0";
