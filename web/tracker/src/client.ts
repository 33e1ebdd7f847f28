import type { components, paths } from "./api-types";
import { normaliseId } from "./ids";

export type RecommendedItem = components["schemas"]["RecommendedItemPublic"];
export type Recommendations = components["schemas"]["RecommendationsPublic"];
export type SimilarItems = components["schemas"]["SimilarItemsPublic"];
export type PopularItems = components["schemas"]["PopularItemsPublic"];
export type ModelInfo = components["schemas"]["ModelPublic"];

type Query<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never;
type RecQuery = Query<"/v1/users/{user_id}/recommendations">;

export interface RecommendationOptions {
  /** How many items (1-100). Default 10. */
  k?: number;
  /** Item ids to leave out (e.g. what is in the cart); filtered here, after asking for k more. */
  exclude?: string[];
  /** Leave out items the user already interacted with (server side). Server default: true. */
  excludeSeen?: boolean;
  /** Ask for reasons, per-source scores and evidence. */
  explain?: boolean;
  category?: string;
  /** 0 = pure relevance, 1 = maximal spread (MMR). */
  diversity?: number;
}

export interface ClientOptions {
  /** API base URL, e.g. "https://api.example.com" (no trailing /v1). */
  endpoint: string;
  /** Publishable key (pk_...), sent as X-API-Key. Without one only local demo servers answer reads. */
  key?: string;
  fetch?: typeof fetch;
}

/** A refused or failed API call: `status` (0 = network), the server's `detail`, `retryAfter` seconds. */
export class GraphrecError extends Error {
  constructor(message: string, readonly status: number, readonly detail?: unknown, readonly retryAfter?: number) {
    super(message);
    this.name = "GraphrecError";
  }
}

export interface Client {
  recommendations(userId: string, opts?: RecommendationOptions): Promise<Recommendations>;
  anonymousRecommendations(anonymousId: string, opts?: RecommendationOptions): Promise<Recommendations>;
  similar(itemId: string, opts?: { k?: number; explain?: boolean }): Promise<SimilarItems>;
  popular(opts?: { category?: string; k?: number }): Promise<PopularItems>;
  model(): Promise<ModelInfo>;
}

/** A small typed client for the recommendation reads (types generated from the OpenAPI document). */
export function createClient(o: ClientOptions): Client {
  const base = o.endpoint.replace(/\/+$/, "");
  const get = async <T>(path: string, query: Record<string, string | number | boolean | null | undefined> = {}): Promise<T> => {
    const f = o.fetch || (typeof fetch === "function" ? fetch : undefined);
    if (!f) throw new GraphrecError("no fetch in this environment", 0);
    const qs = Object.keys(query)
      .filter((k) => query[k] !== undefined && query[k] !== null)
      .map((k) => `${k}=${encodeURIComponent(String(query[k]))}`)
      .join("&");
    let res: Response;
    try {
      res = await f(base + path + (qs ? `?${qs}` : ""), { headers: o.key ? { "X-API-Key": o.key } : {}, credentials: "omit" });
    } catch (e) {
      throw new GraphrecError(`network error: ${String(e)}`, 0);
    }
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    if (!res.ok) {
      const ra = Number(res.headers.get("Retry-After"));
      const detail = body && (body as { detail?: unknown }).detail;
      throw new GraphrecError(`${res.status} ${typeof detail === "string" ? detail : res.statusText || "error"}`, res.status, detail, isFinite(ra) && ra > 0 ? ra : undefined);
    }
    return body as T;
  };
  const seg = (id: string, field: string): string => encodeURIComponent(normaliseId(id, field));
  const recs = async (path: string, opts: RecommendationOptions): Promise<Recommendations> => {
    const k = opts.k ?? 10;
    const exclude = new Set(opts.exclude || []);
    const q: RecQuery = { k: Math.min(100, k + exclude.size), explain: opts.explain, category: opts.category, diversity: opts.diversity, exclude_seen: opts.excludeSeen };
    const r = await get<Recommendations>(path, q);
    if (exclude.size) {
      r.data = r.data.filter((it) => !exclude.has(it.item_id)).slice(0, k);
      r.count = r.data.length;
    }
    return r;
  };
  return {
    recommendations: async (userId, opts = {}) => recs(`/v1/users/${seg(userId, "user_id")}/recommendations`, opts),
    anonymousRecommendations: async (anonymousId, opts = {}) => recs(`/v1/anonymous/${seg(anonymousId, "anonymous_id")}/recommendations`, opts),
    similar: async (itemId, opts = {}) => {
      const q: Query<"/v1/items/{item_id}/similar"> = { k: opts.k ?? 10, explain: opts.explain };
      return get(`/v1/items/${seg(itemId, "item_id")}/similar`, q);
    },
    popular: (opts = {}) => {
      const q: Query<"/v1/items/popular"> = { k: opts.k ?? 10, category: opts.category };
      return get("/v1/items/popular", q);
    },
    model: () => get("/v1/model"),
  };
}
