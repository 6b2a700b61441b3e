// Users: registering them ahead of their first login, what the server knows of one (devices),
// minting their login tokens, and removing them (they leave their calls, their pushes go).
import { leaveCommand } from "@beckon/engine";
import { BeckonError, ErrorCode } from "@beckon/protocol";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { signToken } from "../auth-tokens.js";
import { type ApiDependencies, apiActor } from "./api-dependencies.js";
import * as s from "./api-schemas.js";

export async function usersRoutes(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const clock = deps.clock ?? Date.now;

  api.post(
    "/users",
    {
      config: { scope: "write" },
      schema: {
        tags: ["users"],
        operationId: "registerUsers",
        summary: "Register users, so they can be invited before their first login",
        body: s.registerUsersBody,
        response: { 200: s.registerUsersBody, ...s.bodyProblemReplies },
      },
    },
    async (request) => {
      const userIDs = [...new Set(request.body.userIDs)];
      await deps.store.addUsers(userIDs);
      return { userIDs };
    },
  );

  api.get(
    "/users/:userID",
    {
      config: { scope: "read" },
      schema: {
        tags: ["users"],
        operationId: "getUser",
        summary: "Whether the user is known, and their devices",
        params: s.userParams,
        response: { 200: s.userReply, ...s.problemReplies },
      },
    },
    async (request) => {
      const { userID } = request.params;
      const [known, devices] = await Promise.all([
        deps.store.knownUsers([userID]),
        deps.presence.devicesOf(userID),
      ]);
      return {
        userID,
        known: known.has(userID),
        devices: devices.map((device) => ({
          deviceID: device.deviceID,
          online: device.awaySince === 0,
          awaySince: device.awaySince,
        })),
      };
    },
  );

  api.delete(
    "/users/:userID",
    {
      config: { scope: "write" },
      schema: {
        tags: ["users"],
        operationId: "removeUser",
        summary: "Remove a user: their calls end for them, their push registrations go",
        params: s.userParams,
        response: { 204: s.noContent, ...s.problemReplies },
      },
    },
    async (request, reply) => {
      const { userID } = request.params;
      for (const call of await deps.store.activeCallsOf(userID)) {
        const leave = leaveCommand(call, apiActor(userID), "user removed");
        if (!leave) continue;
        await deps.calls.execute(call.callID, leave).catch((error: unknown) => {
          // Ended or changed meanwhile: nothing left to leave.
          if (!(error instanceof BeckonError) || error.code === ErrorCode.ServerError) throw error;
        });
      }
      await deps.pushRegistrations.removeAllOf(userID);
      await deps.forgetUser?.(userID);
      return reply.code(204).send(null);
    },
  );

  api.post(
    "/users/:userID/tokens",
    {
      config: { scope: "write" },
      schema: {
        tags: ["users"],
        operationId: "createLoginToken",
        summary: "Mint a login token for the user (registering them)",
        params: s.userParams,
        body: s.tokenBody,
        response: { 200: s.tokenReply, ...s.bodyProblemReplies },
      },
    },
    async (request) => {
      const { userID } = request.params;
      const { ttlSeconds } = request.body;
      await deps.store.addUsers([userID]);
      const token = await signToken({
        secret: deps.secret,
        userID,
        ttlSeconds,
        ...(deps.secretKeyID === undefined ? {} : { keyID: deps.secretKeyID }),
      });
      return { userID, token, expiresAt: clock() + ttlSeconds * 1000 };
    },
  );
}
