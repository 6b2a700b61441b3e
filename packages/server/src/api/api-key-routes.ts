// Server API keys (admin scope): create one (its secret shown once), list them, revoke one.
import { ErrorCode } from "@beckon/protocol";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { ApiKeyStore } from "./api-key-store.js";
import * as s from "./api-schemas.js";
import { ApiProblem } from "./problem.js";

export interface ApiKeyRoutesOptions {
  keys: ApiKeyStore;
  clock?: () => number;
}

export async function apiKeyRoutes(
  app: FastifyInstance,
  { keys, clock = Date.now }: ApiKeyRoutesOptions,
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    "/keys",
    {
      config: { scope: "admin" },
      schema: {
        tags: ["keys"],
        operationId: "createApiKey",
        summary: "Create an API key (shown only in this reply)",
        body: s.apiKeyBody,
        response: { 201: s.apiKeyCreated, ...s.bodyProblemReplies },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await keys.create(request.body.name, request.body.scopes, clock())),
  );

  api.get(
    "/keys",
    {
      config: { scope: "admin" },
      schema: {
        tags: ["keys"],
        operationId: "listApiKeys",
        summary: "The API keys",
        response: { 200: s.apiKeyView.array(), ...s.problemReplies },
      },
    },
    async () => keys.list(),
  );

  api.delete(
    "/keys/:keyID",
    {
      config: { scope: "admin" },
      schema: {
        tags: ["keys"],
        operationId: "revokeApiKey",
        summary: "Revoke an API key",
        params: s.apiKeyParams,
        response: { 204: s.noContent, ...s.problemReplies },
      },
    },
    async (request, reply) => {
      if (!(await keys.revoke(request.params.keyID))) {
        throw new ApiProblem(404, ErrorCode.ParamsInvalid, "no such API key");
      }
      return reply.code(204).send(null);
    },
  );
}
