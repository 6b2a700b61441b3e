// The OpenAPI document of the server API, generated from the zod schemas that validate its
// requests and served at `/openapi.json`. Registered before the routes, so it sees every one.
import swagger from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";
import type { OpenAPIV3_1 } from "openapi-types";
import { API_BODY_LIMIT_BYTES, MAX_PATH_PARAMETER_LENGTH } from "./api-schemas.js";

type Document = OpenAPIV3_1.Document;

const description = `For app backends: users, tokens, calls, push registrations and webhooks.

Every refusal is \`application/problem+json\` (RFC 9457) carrying the SDK's error code: an unknown
route is a 404, a known path with another method a 405 with \`Allow\`, a path parameter longer
than ${MAX_PATH_PARAMETER_LENGTH} characters or a path that cannot be decoded a 400, a body over
${API_BODY_LIMIT_BYTES} bytes a 413, and missing or bad credentials a 401 with \`WWW-Authenticate\`.`;

const tags = [
  { name: "users", description: "Registering users, their devices, login tokens, removal" },
  { name: "calls", description: "Calls on behalf of their members, as the SDK would make them" },
  { name: "push", description: "Devices' registrations for offline push" },
  { name: "webhooks", description: "Webhook endpoints and the delivery log (admin scope)" },
  { name: "keys", description: "Server API keys (admin scope)" },
];

/** Every `#/components/schemas/<name>` a part of the document refers to. */
function schemaRefs(value: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) schemaRefs(item, into);
  } else if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (
        key === "$ref" &&
        typeof inner === "string" &&
        inner.startsWith("#/components/schemas/")
      ) {
        into.add(inner.slice("#/components/schemas/".length));
      } else schemaRefs(inner, into);
    }
  }
  return into;
}

/**
 * What the generator cannot say on its own: the zod registry holds an input and an output
 * variant of every named schema, used or not, so only those the operations reach are kept; a
 * 401 names its `WWW-Authenticate` challenge, a 503 its `Retry-After`; a 204 has no body.
 */
export function finishDocument(document: Document): Document {
  const schemas = document.components?.schemas ?? {};
  const used = schemaRefs(document.paths, new Set());
  for (let grew = true; grew; ) {
    const before = used.size;
    for (const name of [...used]) schemaRefs(schemas[name], used);
    grew = used.size > before;
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  for (const item of Object.values(document.paths ?? {})) {
    for (const method of ["get", "put", "post", "delete", "patch"] as const) {
      const responses = item?.[method]?.responses as
        | Record<string, OpenAPIV3_1.ResponseObject>
        | undefined;
      if (!responses) continue;
      const unauthorized = responses["401"];
      if (unauthorized) {
        unauthorized.headers = {
          "WWW-Authenticate": {
            description:
              'The challenge: `Bearer realm="beckon"`, with `error="invalid_token"` when a credential was sent',
            schema: { type: "string" },
          },
        };
      }
      for (const status of ["429", "503"]) {
        const refused = responses[status];
        if (!refused) continue;
        refused.headers = {
          "Retry-After": {
            description: "Seconds to wait before retrying",
            schema: { type: "integer", minimum: 0 },
          },
        };
      }
      const noContent = responses["204"];
      if (noContent) delete noContent.content;
    }
  }
  return { ...document, components: { ...document.components, schemas: kept } };
}

async function openApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Beckon server API",
        version: "1",
        description,
        license: { name: "MIT", identifier: "MIT" },
      },
      servers: [{ url: "/", description: "The server that serves this document" }],
      tags,
      components: {
        securitySchemes: {
          apiKey: { type: "http", scheme: "bearer", description: "bk_… API key" },
          loginToken: { type: "http", scheme: "bearer", description: "a user's login token (JWT)" },
        },
      },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: (input) => finishDocument(jsonSchemaTransformObject(input) as Document),
  });
  app.get("/openapi.json", { schema: { hide: true } }, async (_request, reply) =>
    reply.type("application/json").serializer(JSON.stringify).send(app.swagger()),
  );
}

/** Shares the document with the routes registered beside it (no encapsulation). */
export const openApiPlugin = fp(openApi, { name: "beckon-openapi" });
