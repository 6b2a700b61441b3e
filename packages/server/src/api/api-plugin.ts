// The server API for app backends (SPEC §8), as a Fastify plugin mounted under a prefix (`/api`).
// This file only assembles it: problem+json error mapping, the answer to requests no route takes,
// the OpenAPI document and auth apply to every route; each resource's routes are a plugin of
// their own file. A new resource is a new `*-routes.ts` registered below.
import type { FastifyInstance, RegisterOptions } from "fastify";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import { consoleRoutes } from "../console/console-routes.js";
import type { ApiDependencies } from "./api-dependencies.js";
import { apiKeyRoutes } from "./api-key-routes.js";
import { API_BODY_LIMIT_BYTES } from "./api-schemas.js";
import { authPlugin } from "./auth-plugin.js";
import { callView } from "./call-view.js";
import { callsRoutes } from "./calls-routes.js";
import { openApiPlugin } from "./openapi-plugin.js";
import { problemPlugin } from "./problem-plugin.js";
import { pushRegistrationRoutes } from "./push-registration-routes.js";
import { unmatchedRequestsPlugin } from "./unmatched-requests-plugin.js";
import { usersRoutes } from "./users-routes.js";
import { webhookRoutes } from "./webhook-routes.js";

export async function beckonApi(
  app: FastifyInstance,
  options: ApiDependencies & RegisterOptions,
): Promise<void> {
  // The options beckonApi was registered with carry its own prefix; the route plugins sit under it.
  const { prefix: _prefix, logLevel: _logLevel, logSerializers: _serializers, ...deps } = options;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  await app.register(problemPlugin);
  // First of the routes' plugins: it learns every route registered after it.
  await app.register(unmatchedRequestsPlugin);
  await app.register(openApiPlugin);
  await app.register(authPlugin, deps);
  app.addHook("onRoute", (route) => {
    route.bodyLimit ??= API_BODY_LIMIT_BYTES;
  });

  await app.register(usersRoutes, deps);
  await app.register(callsRoutes, deps);
  await app.register(pushRegistrationRoutes, deps);
  if (deps.webhooks) {
    await app.register(webhookRoutes, { ...deps.webhooks, clock: deps.clock });
  }
  await app.register(apiKeyRoutes, { keys: deps.keys, clock: deps.clock });
  if (deps.console) {
    // The live stream's call events are the same view as GET /calls/{id}.
    const view = async (callID: string) => {
      const call = await deps.store.getCall(callID);
      return call ? callView(deps, call) : undefined;
    };
    await app.register(consoleRoutes, { ...deps.console, callView: view });
  }
}
