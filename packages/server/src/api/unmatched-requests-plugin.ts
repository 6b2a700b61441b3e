// Requests under the API's prefix that no route takes: a path the API does not have (404), a
// path it has with another method (405 with `Allow`), or one whose parameter is longer than the
// router matches (400). Each is problem+json like every other refusal, never the site's 404.
import { ErrorCode } from "@beckon/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import fp from "fastify-plugin";
import { MAX_PATH_PARAMETER_LENGTH } from "./api-schemas.js";
import { sendProblem } from "./problem-plugin.js";

interface KnownRoute {
  segments: string[];
  methods: Set<string>;
}

/** Whether `path` has the shape of `route`: same literal segments, a non-empty one per parameter. */
function fits(route: KnownRoute, path: string[]): boolean {
  if (route.segments.length !== path.length) return false;
  return route.segments.every((segment, i) =>
    segment.startsWith(":") ? (path[i] ?? "") !== "" : segment === path[i],
  );
}

async function unmatchedRequests(app: FastifyInstance): Promise<void> {
  const known = new Map<string, KnownRoute>();
  const learn = (route: RouteOptions) => {
    const entry = known.get(route.url) ?? { segments: route.url.split("/"), methods: new Set() };
    for (const method of [route.method].flat()) {
      entry.methods.add(method);
      // Fastify answers HEAD for every GET route.
      if (method === "GET") entry.methods.add("HEAD");
    }
    known.set(route.url, entry);
  };

  async function refuse(request: FastifyRequest, reply: FastifyReply) {
    const query = request.url.indexOf("?");
    const path = (query < 0 ? request.url : request.url.slice(0, query)).split("/");
    const matches = [...known.values()].filter((route) => fits(route, path));
    const allowed = new Set(matches.flatMap((route) => [...route.methods]));
    if (matches.length > 0 && !allowed.has(request.method)) {
      return sendProblem(
        reply.header("allow", [...allowed].sort().join(", ")),
        405,
        ErrorCode.ParamsInvalid,
        `${request.method} is not allowed here; use ${[...allowed].sort().join(", ")}`,
      );
    }
    if (matches.length > 0) {
      // The route exists for this method: only a parameter too long for the router stops it.
      return sendProblem(
        reply,
        400,
        ErrorCode.ParamsInvalid,
        `a path parameter is longer than ${MAX_PATH_PARAMETER_LENGTH} characters`,
      );
    }
    return sendProblem(
      reply,
      404,
      ErrorCode.ParamsInvalid,
      `no route ${request.method} ${path.join("/")}`,
    );
  }

  // The answer is given before the body is read: an unmatched request costs no parsing.
  const options = { schema: { hide: true }, onRequest: refuse };
  const never = async () => undefined;
  app.all("/", options, never);
  app.all("/*", options, never);
  // Added after the two above, so it learns only the API's own routes.
  app.addHook("onRoute", learn);
}

/** Registered before the routes, so it learns each one as it is added. */
export const unmatchedRequestsPlugin = fp(unmatchedRequests, { name: "beckon-api-unmatched" });
