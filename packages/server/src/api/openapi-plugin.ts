// The OpenAPI document of the server API, generated from the zod schemas that validate its
// requests and served at `/openapi.json`. Registered before the routes, so it sees every one.
import swagger from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";

async function openApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Beckon server API",
        version: "1",
        description: "For app backends: users, tokens, calls, push registrations and webhooks.",
      },
      components: {
        securitySchemes: {
          apiKey: { type: "http", scheme: "bearer", description: "bk_… API key" },
          loginToken: { type: "http", scheme: "bearer", description: "a user's login token (JWT)" },
        },
      },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  app.get("/openapi.json", { schema: { hide: true } }, async (_request, reply) =>
    reply.type("application/json").serializer(JSON.stringify).send(app.swagger()),
  );
}

/** Shares the document with the routes registered beside it (no encapsulation). */
export const openApiPlugin = fp(openApi, { name: "beckon-openapi" });
