// Push registrations: an app backend manages a user's devices with an API key; a device
// registers itself with its user's login token, so a page or app needs no API key.
import { BeckonError, ErrorCode } from "@beckon/protocol";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { PushTarget } from "../push/push-types.js";
import type { ApiDependencies } from "./api-dependencies.js";
import * as s from "./api-schemas.js";
import { ApiProblem } from "./problem.js";

export async function pushRegistrationRoutes(
  app: FastifyInstance,
  deps: ApiDependencies,
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const clock = deps.clock ?? Date.now;
  const notFound = () => new ApiProblem(404, ErrorCode.ParamsInvalid, "no such push registration");

  api.post(
    "/users/:userID/push-registrations",
    {
      config: { scope: "write" },
      schema: {
        tags: ["push"],
        operationId: "addPushRegistration",
        summary: "Register a device for offline push (replaces its earlier one for the provider)",
        params: s.userParams,
        body: s.addRegistrationBody,
        response: { 201: s.registration, ...s.bodyProblemReplies },
      },
    },
    async (request, reply) => {
      const { deviceID, target } = request.body;
      const added = await deps.pushRegistrations.add(
        request.params.userID,
        deviceID,
        target as PushTarget,
        clock(),
      );
      return reply.code(201).send(added);
    },
  );

  api.get(
    "/users/:userID/push-registrations",
    {
      config: { scope: "read" },
      schema: {
        tags: ["push"],
        operationId: "listPushRegistrations",
        summary: "The user's push registrations",
        params: s.userParams,
        response: { 200: s.registration.array(), ...s.problemReplies },
      },
    },
    async (request) => deps.pushRegistrations.listOf(request.params.userID),
  );

  api.delete(
    "/users/:userID/push-registrations/:registrationID",
    {
      config: { scope: "write" },
      schema: {
        tags: ["push"],
        operationId: "removePushRegistration",
        summary: "Remove a push registration",
        params: s.registrationParams,
        response: { 204: s.noContent, ...s.problemReplies },
      },
    },
    async (request, reply) => {
      const { userID, registrationID } = request.params;
      if (!(await deps.pushRegistrations.remove(registrationID, userID))) throw notFound();
      return reply.code(204).send(null);
    },
  );

  api.get(
    "/push/web-push-key",
    {
      schema: {
        tags: ["push"],
        operationId: "getWebPushKey",
        summary: "The VAPID public key to subscribe with (`applicationServerKey`)",
        security: [],
        response: { 200: s.webPushKeyReply, ...s.publicProblemReplies },
      },
    },
    async () => {
      if (!deps.vapidPublicKey) {
        throw new ApiProblem(
          404,
          ErrorCode.ParamsInvalid,
          "Web Push is not configured on this server",
        );
      }
      return { publicKey: deps.vapidPublicKey };
    },
  );

  api.post(
    "/me/push-registrations",
    {
      config: { user: true },
      schema: {
        tags: ["push"],
        operationId: "addOwnPushRegistration",
        summary: "Register this device for offline push, authorized by the user's login token",
        security: [{ loginToken: [] }],
        body: s.addRegistrationBody,
        response: { 201: s.registration, ...s.bodyProblemReplies },
      },
    },
    async (request, reply) => {
      const { deviceID, target } = request.body;
      // Anyone with a login token gets here: the server must not be made to POST to plain-HTTP
      // (internal) addresses on their behalf. Push services are HTTPS.
      if (target.provider === "webpush" && !target.endpoint.startsWith("https://")) {
        throw new BeckonError(ErrorCode.ParamsInvalid, "a Web Push endpoint must be https");
      }
      const added = await deps.pushRegistrations.add(
        request.userID as string,
        deviceID,
        target as PushTarget,
        clock(),
      );
      return reply.code(201).send(added);
    },
  );

  api.get(
    "/me/push-registrations",
    {
      config: { user: true },
      schema: {
        tags: ["push"],
        operationId: "listOwnPushRegistrations",
        summary: "The login token's user's push registrations",
        security: [{ loginToken: [] }],
        response: { 200: s.registration.array(), ...s.problemReplies },
      },
    },
    async (request) => deps.pushRegistrations.listOf(request.userID as string),
  );

  api.delete(
    "/me/push-registrations/:registrationID",
    {
      config: { user: true },
      schema: {
        tags: ["push"],
        operationId: "removeOwnPushRegistration",
        summary: "Remove one of the login token's user's push registrations",
        security: [{ loginToken: [] }],
        params: s.ownRegistrationParams,
        response: { 204: s.noContent, ...s.problemReplies },
      },
    },
    async (request, reply) => {
      if (!(await deps.pushRegistrations.remove(request.params.registrationID, request.userID))) {
        throw notFound();
      }
      return reply.code(204).send(null);
    },
  );
}
