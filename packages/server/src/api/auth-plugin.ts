// Who is calling the server API and whether they may: an API key with the route's scope, or on
// `user` routes a user's login token; each request then spends one of that caller's budget.
import { ErrorCode } from "@beckon/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { consoleSessionKey } from "../console/console-routes.js";
import { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, TokenVerifier } from "../token-verifier.js";
import type { ApiDependencies } from "./api-dependencies.js";
import { type ApiKey, type ApiScope, allows } from "./api-key-store.js";
import { ApiProblem } from "./problem.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The API key scope a route needs; absent: no key needed. */
    scope?: ApiScope;
    /** The route acts for the user whose login token is presented instead of an API key. */
    user?: boolean;
  }
  interface FastifyRequest {
    apiKey?: ApiKey;
    /** The user a login token authenticated, on `user` routes. */
    userID?: string;
  }
}

export type AuthOptions = Pick<
  ApiDependencies,
  "secret" | "tokens" | "keys" | "rateLimits" | "clock" | "console"
>;

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === "string" && header.startsWith("Bearer ")) return header.slice(7).trim();
  const key = request.headers["x-api-key"];
  return typeof key === "string" ? key : undefined;
}

async function auth(app: FastifyInstance, options: AuthOptions): Promise<void> {
  const clock = options.clock ?? Date.now;
  const tokens =
    options.tokens ??
    new TokenVerifier(
      { secret: options.secret, maxTokenLifetimeSeconds: DEFAULT_MAX_TOKEN_LIFETIME_SECONDS },
      app.log,
    );

  /** Spends one of the caller's requests; over the budget the request is refused with 429. */
  async function charge(key: string): Promise<void> {
    const { rateLimits } = options;
    if (!rateLimits) return;
    // A budget that cannot be checked lets the request through: never refuse all.
    const allowed = await Promise.resolve(rateLimits.take("api", key)).catch((error: unknown) => {
      app.log.warn({ err: error }, "rate limit check failed");
      return true;
    });
    if (allowed) return;
    throw new ApiProblem(
      429,
      ErrorCode.ServerFrequencyLimit,
      "too many requests for this API key or user; slow down",
    );
  }

  /** The user a login token (the one the SDK logs in with) was issued to. */
  async function loginTokenUser(token: string | undefined): Promise<string> {
    if (!token) {
      throw new ApiProblem(
        401,
        ErrorCode.TokenInvalid,
        "send the user's login token as a Bearer token",
      );
    }
    return (await tokens.identify(token)).userID;
  }

  app.addHook("onRequest", async (request, reply) => {
    const { scope, user } = request.routeOptions.config;
    if (user) {
      request.userID = await loginTokenUser(bearer(request));
      await charge(`user:${request.userID}`);
      return;
    }
    if (!scope) return;
    const presented = bearer(request);
    // No key: perhaps the operator console's session cookie stands for one.
    const sessionKey =
      presented || !options.console
        ? undefined
        : await consoleSessionKey(request, reply, options.console.sessions);
    if (sessionKey) {
      if (!allows(sessionKey.scopes, scope)) {
        throw new ApiProblem(403, ErrorCode.TokenInvalid, `this needs the ${scope} scope`);
      }
      request.apiKey = sessionKey;
      await charge(`key:${sessionKey.id}`);
      return;
    }
    if (!presented) {
      throw new ApiProblem(
        401,
        ErrorCode.TokenInvalid,
        "send an API key as `Authorization: Bearer bk_…`",
      );
    }
    const key = await options.keys.verify(presented, clock());
    if (!key)
      throw new ApiProblem(401, ErrorCode.TokenInvalid, "the API key is unknown or revoked");
    if (!allows(key.scopes, scope)) {
      throw new ApiProblem(
        403,
        ErrorCode.TokenInvalid,
        `this needs an API key with the ${scope} scope`,
      );
    }
    request.apiKey = key;
    await charge(`key:${key.id}`);
  });
}

/** Guards every route registered beside it (no encapsulation), by each route's `config`. */
export const authPlugin = fp(auth, { name: "beckon-api-auth" });
