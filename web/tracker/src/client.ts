import type { components, paths } from "./api-types.js";
import { normaliseId } from "./ids.js";
import { namesUserToken, UserTokens } from "./token.js";
import type { UserTokenSource } from "./token.js";

export type RecommendedItem = components["schemas"]["RecommendedItemPublic"];
export type Recommendations = components["schemas"]["RecommendationsPublic"];
export type SimilarItems = components["schemas"]["SimilarItemsPublic"];
export type PopularItems = components["schemas"]["PopularItemsPublic"];
export type ModelInfo = components["schemas"]["ModelPublic"];
export type CatalogueItem = components["schemas"]["ItemPublic"];
export type CatalogueItems = components["schemas"]["ItemsPublic"];
export type Categories = components["schemas"]["CategoriesPublic"];
export type ImpressionsRecorded = components["schemas"]["ImpressionsPublic"];
export type BoughtTogether = components["schemas"]["BoughtTogetherPublic"];

type Query<P extends keyof paths> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? NonNullable<Q> : never;
type RecQuery = Query<"/v1/users/{user_id}/recommendations">;

/** Paging and filtering every recommendation list takes. */
export interface ListOptions {
  /** How many items (1-100). Default 10. */
  k?: number;
  /** Item ids the server never returns (e.g. what is in the cart; at most 500). */
  exclude?: string[];
  /** `next_cursor` of the previous page of the same list: the next items, none repeated. */
  cursor?: string | null;
  /** Ask for reasons, per-source scores and evidence. */
  explain?: boolean;
  /** Only items priced at least / at most this (inclusive; items without a price are left out). */
  priceMin?: number;
  priceMax?: number;
  /** Only items whose catalogue attributes have these values, e.g. `{ brand: "acme" }` (every one must hold). */
  attributes?: Record<string, string>;
}

export interface RecommendationOptions extends ListOptions {
  /** Leave out items the user already interacted with (server side). Server default: true. */
  excludeSeen?: boolean;
  category?: string;
  /** 0 = pure relevance, 1 = maximal spread (MMR). */
  diversity?: number;
}

export interface ClientOptions {
  /** API base URL, e.g. "https://api.example.com" (no trailing /v1). */
  endpoint: string;
  /** Publishable key (pk_...), sent as X-API-Key. Without one only local demo servers answer reads. */
  key?: string;
  /** The signed-in user's token (X-User-Token on calls that name a user: their recommendations, their
   * impressions): a string, or a function fetching one from the site's server, called when there is
   * none for the user, when it expires, and once after a 401 that names it. */
  userToken?: UserTokenSource | UserTokens;
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
  similar(itemId: string, opts?: ListOptions & { category?: string }): Promise<SimilarItems>;
  popular(opts?: ListOptions & { category?: string }): Promise<PopularItems>;
  /** Frequently bought together with one item, or (a list of ids, at most 50) with a cart: empty, with
   * `reason: "no_co_purchases"`, when nobody bought or carted anything together with them. */
  boughtTogether(itemIds: string | string[], opts?: ListOptions & { category?: string }): Promise<BoughtTogether>;
  model(): Promise<ModelInfo>;
  /** The catalogue's categories with their item counts, by name. */
  categories(): Promise<Categories>;
  /** The catalogue a page at a time (by item id); pass `next_cursor` back as `cursor`. */
  items(opts?: { category?: string; limit?: number; cursor?: string | null }): Promise<CatalogueItems>;
  /** One item as the catalogue describes it (404: unknown). */
  item(itemId: string): Promise<CatalogueItem>;
  /** Report which items of a recommendation list (its `recommendation_id`) the visitor actually saw:
   * online CTR, conversion and experiments count them (POST /v1/impressions). */
  impressions(recommendationId: string, itemIds: string[],
              who: { userId: string } | { anonymousId: string }): Promise<ImpressionsRecorded>;
}

/** A small typed client for the recommendation reads (types generated from the OpenAPI document). */
export function createClient(o: ClientOptions): Client {
  const base = o.endpoint.replace(/\/+$/, "");
  const tokens = o.userToken instanceof UserTokens ? o.userToken : new UserTokens(o.userToken, () => Date.now());
  type QueryValue = string | number | boolean | null | undefined | string[];
  const get = async <T>(path: string, query: Record<string, QueryValue> = {},
                        post?: unknown, user?: string, retried = false): Promise<T> => {
    const f = o.fetch || (typeof fetch === "function" ? fetch : undefined);
    if (!f) throw new GraphrecError("no fetch in this environment", 0);
    let token: string | undefined;
    if (user !== undefined) {
      try {
        token = await tokens._get(user);
      } catch (e) {
        throw new GraphrecError(`userToken: ${e}`, 0);
      }
    }
    // a list value is a repeated parameter (attr=a:1&attr=b:2)
    const qs = Object.keys(query)
      .flatMap((k) => {
        const v = query[k];
        if (v === undefined || v === null) return [];
        return (Array.isArray(v) ? v : [v]).map((one) => `${k}=${encodeURIComponent(String(one))}`);
      })
      .join("&");
    let res: Response;
    try {
      const headers: Record<string, string> = o.key ? { "X-API-Key": o.key } : {};
      if (token) headers["X-User-Token"] = token;
      res = await f(base + path + (qs ? `?${qs}` : ""), post === undefined ? { headers, credentials: "omit" } : {
        method: "POST", headers: { ...headers, "Content-Type": "application/json" }, credentials: "omit",
        body: JSON.stringify(post),
      });
    } catch (e) {
      throw new GraphrecError(`network error: ${String(e)}`, 0);
    }
    let body: unknown = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    if (!res.ok && user !== undefined && !retried && namesUserToken(res.status, body)) {
      tokens._drop(); // expired or refused: once more with a fresh one
      return get<T>(path, query, post, user, true);
    }
    if (!res.ok) {
      const ra = Number(res.headers.get("Retry-After"));
      const detail = body && (body as { detail?: unknown }).detail;
      throw new GraphrecError(`${res.status} ${typeof detail === "string" ? detail : res.statusText || "error"}`, res.status, detail, isFinite(ra) && ra > 0 ? ra : undefined);
    }
    return body as T;
  };
  const seg = (id: string, field: string): string => encodeURIComponent(normaliseId(id, field));
  // exclude= goes as one comma-separated parameter; each id is checked here first
  const list = (o: ListOptions) => ({
    k: o.k ?? 10, explain: o.explain, cursor: o.cursor,
    exclude: o.exclude && o.exclude.length ? o.exclude.map((id) => normaliseId(id, "exclude")).join(",") : undefined,
    price_min: o.priceMin, price_max: o.priceMax,
    attr: o.attributes ? Object.entries(o.attributes).map(([name, value]) => `${name}:${value}`) : undefined,
  });
  const recs = async (path: string, o: RecommendationOptions, user?: string): Promise<Recommendations> => {
    const q: Omit<RecQuery, "exclude"> & { exclude?: string } = {
      ...list(o), category: o.category, diversity: o.diversity, exclude_seen: o.excludeSeen,
    };
    return get<Recommendations>(path, q, undefined, user);
  };
  return {
    recommendations: async (userId, opts = {}) =>
      recs(`/v1/users/${seg(userId, "user_id")}/recommendations`, opts, normaliseId(userId, "user_id")),
    anonymousRecommendations: async (anonymousId, opts = {}) => recs(`/v1/anonymous/${seg(anonymousId, "anonymous_id")}/recommendations`, opts),
    similar: async (itemId, opts = {}) =>
      get(`/v1/items/${seg(itemId, "item_id")}/similar`, { ...list(opts), category: opts.category }),
    popular: async (opts = {}) => get("/v1/items/popular", { ...list(opts), category: opts.category }),
    boughtTogether: async (itemIds, opts = {}) => typeof itemIds === "string"
      ? get(`/v1/items/${seg(itemIds, "item_id")}/bought-together`, { ...list(opts), category: opts.category })
      : get("/v1/items/bought-together", { items: itemIds.map((id) => normaliseId(id, "items")).join(","), ...list(opts), category: opts.category }),
    model: () => get("/v1/model"),
    categories: () => get("/v1/categories"),
    items: async (opts = {}) => {
      const q: Query<"/v1/items"> = { category: opts.category, limit: opts.limit, cursor: opts.cursor };
      return get("/v1/items", q);
    },
    item: async (itemId) => get(`/v1/items/${seg(itemId, "item_id")}`),
    impressions: async (recommendationId, itemIds, who) => {
      const user = "userId" in who ? normaliseId(who.userId, "user_id") : undefined;
      return get("/v1/impressions", {}, {
        recommendation_id: recommendationId, item_ids: itemIds.map((id) => normaliseId(id, "item_ids")),
        ...(user !== undefined ? { user_id: user } : { anonymous_id: normaliseId((who as { anonymousId: string }).anonymousId, "anonymous_id") }),
      }, user);
    },
  };
}
