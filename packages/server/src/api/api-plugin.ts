// The server API for app backends (SPEC §8), as a Fastify plugin mounted under a prefix (`/api`).
// This file only assembles it: the OpenAPI document, problem+json error mapping and auth apply to
// every route; each resource's routes are a plugin of their own file. A new resource is a new
// `*-routes.ts` registered below.
import type { FastifyInstance, RegisterOptions } from "fastify";
import { serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { ApiDependencies } from "./api-dependencies.js";
import { apiKeyRoutes } from "./api-key-routes.js";
import { authPlugin } from "./auth-plugin.js";
import { callsRoutes } from "./calls-routes.js";
import { openApiPlugin } from "./openapi-plugin.js";
import { problemPlugin } from "./problem-plugin.js";
import { pushRegistrationRoutes } from "./push-registration-routes.js";
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
  await app.register(openApiPlugin);
  await app.register(problemPlugin);
  await app.register(authPlugin, deps);

  await app.register(usersRoutes, deps);
  await app.register(callsRoutes, deps);
  await app.register(pushRegistrationRoutes, deps);
  if (deps.webhooks) {
    await app.register(webhookRoutes, { ...deps.webhooks, clock: deps.clock });
  }
  await app.register(apiKeyRoutes, { keys: deps.keys, clock: deps.clock });
}
