/**
 * User tokens: what lets the page's publishable key name its signed-in user (issue 25). The site's
 * server mints one per user (v1.<base64url JSON {sub, iat, exp}>.<HMAC>, docs/api.md "User tokens");
 * the page gets it through the `userToken` option: a string, or a function the tracker calls when it
 * has no token for the user, when the one it has expires within a minute, and after a 401 naming it.
 */

/** A token string, or a function that fetches one for `userId` from the site's server. */
export type UserTokenSource = string | ((userId: string) => string | Promise<string>);

/** When a token expires (epoch ms), read from its payload; NaN when unreadable (then it is used until
 * the server refuses it). The page cannot check the signature and does not need to. */
export function tokenExpiry(token: string): number {
  try {
    return JSON.parse(atob(token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/"))).exp * 1000;
  } catch {
    return NaN;
  }
}

/** Whether a refused request names the user token (a 401 to answer with a fresh token). */
export const namesUserToken = (status: number, body: unknown): boolean =>
  status === 401 && /user token/i.test(String(body && (body as { detail?: unknown }).detail));

/** The page's user token: cached for one user, refreshed from the source when absent, expiring or refused. */
export class UserTokens {
  private _token: string | undefined;
  private _user: string | undefined;
  private _pending: Promise<string | undefined> | null = null;

  constructor(private _src: UserTokenSource | undefined, private _now: () => number) {}

  /** A usable token cached for `userId`, or undefined (a beacon cannot wait for a fetch). */
  _peek(userId: string): string | undefined {
    if (!this._token && typeof this._src === "string") this._keep(userId, this._src);
    const t = this._token;
    // refresh a minute early, so that a token does not expire on the way
    return t && this._user === userId && !(tokenExpiry(t) - 60000 <= this._now()) ? t : undefined;
  }

  /** A token for `userId`: the cached one while usable, else one from the source (undefined without
   * a source; rejects when the source fails, so the caller retries later). */
  async _get(userId: string): Promise<string | undefined> {
    const src = this._src;
    const cached = this._peek(userId);
    if (cached || typeof src !== "function") return cached || (typeof src === "string" ? this._keep(userId, src) : undefined);
    if (!this._pending) {
      this._pending = Promise.resolve(userId).then(src).then((t) => this._keep(userId, t))
        .finally(() => (this._pending = null));
    }
    return this._pending;
  }

  /** Forgets the cached token (the server refused it, or the user changed). */
  _drop(): void {
    this._token = this._user = undefined;
  }

  private _keep(userId: string, token: string): string | undefined {
    this._user = userId;
    return (this._token = typeof token === "string" && token ? token : undefined);
  }
}
