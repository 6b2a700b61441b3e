// Budgets that must hold across the cluster, not per node: a user's app requests over all of its
// devices, a user's logins, and the server API's requests per key. One node answers them from
// memory; a cluster from Redis, falling back to per-node budgets while Redis cannot answer.

export interface RateLimit {
  burst: number;
  perSecond: number;
}

/** `requests`: per user; `logins`: per user; `api`: per API key (or per user on user routes). */
export type LimitName = "requests" | "logins" | "api";

export type RateLimitSettings = Readonly<Record<LimitName, RateLimit>>;

export const limitNames: readonly LimitName[] = ["requests", "logins", "api"];

export interface RateLimits {
  /**
   * Takes one from `key`'s budget under `name`: true to go on, false when it is spent. Local
   * budgets answer at once (no promise), so a single node's hot path stays synchronous.
   */
  take(name: LimitName, key: string): boolean | Promise<boolean>;
  close(): Promise<void>;
}

/** A user's devices together may send this many times one device's request rate. */
export const USER_ALLOWANCE = 2;

/** The budgets a node's options describe. */
export function rateLimitSettings(options: {
  rateLimit: RateLimit;
  loginRateLimit: RateLimit;
  apiRateLimit: RateLimit;
}): RateLimitSettings {
  return {
    requests: {
      burst: options.rateLimit.burst * USER_ALLOWANCE,
      perSecond: options.rateLimit.perSecond * USER_ALLOWANCE,
    },
    logins: { ...options.loginRateLimit },
    api: { ...options.apiRateLimit },
  };
}
