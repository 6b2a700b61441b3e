// Maps every failure of a server API route to RFC 9457 problem+json with the SDK's error codes:
// schema refusals, the API's own refusals, the engine's errors, an unreachable database or Redis
// (503, retryable) and anything unexpected (500).
import { BeckonError, ErrorCode } from "@beckon/protocol";
import type { FastifyInstance, FastifyReply } from "fastify";
import fp from "fastify-plugin";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { isUnavailable } from "../store-health.js";
import { ApiProblem, problem, statusOf } from "./problem.js";

export function sendProblem(reply: FastifyReply, status: number, code: ErrorCode, detail: string) {
  if (status === 401) {
    // RFC 6750 §3: the challenge names the scheme; an error code only when a credential was sent.
    const { headers } = reply.request;
    const sent = headers.authorization !== undefined || headers["x-api-key"] !== undefined;
    reply.header(
      "www-authenticate",
      sent ? 'Bearer realm="beckon", error="invalid_token"' : 'Bearer realm="beckon"',
    );
  }
  // A budget refills within a second or a window; the client is told to wait that long.
  if (status === 429 && !reply.hasHeader("retry-after")) reply.header("retry-after", "1");
  return reply
    .code(status)
    .type("application/problem+json")
    .serializer(JSON.stringify)
    .send(problem(status, code, detail));
}

async function problems(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const detail = error.validation
        .map((issue) => `${issue.instancePath || "/"} ${issue.message}`)
        .join("; ");
      return sendProblem(
        reply,
        400,
        ErrorCode.ParamsInvalid,
        `${error.validationContext}: ${detail}`,
      );
    }
    if (error instanceof ApiProblem)
      return sendProblem(reply, error.status, error.code, error.message);
    if (error instanceof BeckonError) {
      return sendProblem(reply, statusOf(error.code), error.code, error.message);
    }
    const status = (error as { statusCode?: number }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500) {
      return sendProblem(reply, status, ErrorCode.ParamsInvalid, (error as Error).message);
    }
    request.log.error({ err: error }, "server API request failed");
    if (isUnavailable(error)) {
      void reply.header("retry-after", "1");
      return sendProblem(
        reply,
        503,
        ErrorCode.ServiceUnavailable,
        "the server cannot reach its database or Redis right now; try again",
      );
    }
    return sendProblem(
      reply,
      500,
      ErrorCode.ServerError,
      "the server could not do this; try again",
    );
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, 404, ErrorCode.ParamsInvalid, `no route ${request.method} ${request.url}`),
  );
}

/** Sets the handlers on the API's own context, so every route plugin under it inherits them. */
export const problemPlugin = fp(problems, { name: "beckon-problems" });
