// Calls on behalf of their members: start one, read it with its timeline, list a user's calls,
// and the SDK's call operations (cancel, accept, reject, end, quit, callingInvite).
import type { Call, CallCommand } from "@beckon/engine";
import { BeckonError, ErrorCode, MAX_EXTENDED_DATA_BYTES } from "@beckon/protocol";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { ZodType } from "zod";
import { type ApiDependencies, apiActor } from "./api-dependencies.js";
import * as s from "./api-schemas.js";
import { callView } from "./call-view.js";

export async function callsRoutes(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const bodies = s.callBodies(deps.maxExtendedDataBytes ?? MAX_EXTENDED_DATA_BYTES);

  async function existingCall(callID: string): Promise<Call> {
    const call = await deps.store.getCall(callID);
    if (!call) throw new BeckonError(ErrorCode.CallDoesNotExist, "no such call");
    return call;
  }

  api.post(
    "/calls",
    {
      config: { scope: "write" },
      schema: {
        tags: ["calls"],
        operationId: "createCall",
        summary: "Start a call on behalf of `caller` (callInvite)",
        headers: s.idempotencyHeaders,
        body: bodies.createCallBody,
        response: { 201: s.createCallReply, ...s.bodyProblemReplies },
      },
    },
    async (request, reply) => {
      const { caller, ...config } = request.body;
      const key = request.headers["idempotency-key"];
      const invite = () => deps.calls.invite({ actor: apiActor(caller), ...config }, key);
      const result = await (deps.admission
        ? deps.admission.invitation("api.createCall", invite)
        : invite());
      return reply.code(201).send(result);
    },
  );

  api.get(
    "/calls/:callID",
    {
      config: { scope: "read" },
      schema: {
        tags: ["calls"],
        operationId: "getCall",
        summary: "A call with its members and timeline",
        params: s.callIDParams,
        response: { 200: s.callView, ...s.problemReplies },
      },
    },
    async (request) => {
      return callView(deps, await existingCall(request.params.callID));
    },
  );

  api.get(
    "/users/:userID/calls",
    {
      config: { scope: "read" },
      schema: {
        tags: ["calls"],
        operationId: "listUserCalls",
        summary: "The user's calls, newest first, paged like queryCallInvitationList",
        params: s.userParams,
        querystring: s.listCallsQuery,
        response: { 200: s.listCallsReply, ...s.problemReplies },
      },
    },
    async (request) => {
      const { userID } = request.params;
      const { count, nextFlag } = request.query;
      return deps.calls.callList(userID, count, nextFlag);
    },
  );

  const commandRoute = <B extends "cancel" | "accept" | "reject" | "end" | "quit">(
    name: B,
    body: B extends "cancel"
      ? typeof bodies.cancelBody
      : B extends "end" | "quit"
        ? typeof bodies.actWithPushBody
        : typeof bodies.actAsBody,
    summary: string,
  ) => {
    // Typed loosely: the engine's reply for this command type (ReplyOf) is this schema's shape.
    const replySchema: ZodType = s.commandReplies[name];
    api.post(
      `/calls/:callID/${name}`,
      {
        config: { scope: "write" },
        schema: {
          tags: ["calls"],
          operationId: `${name}Call`,
          summary,
          params: s.callIDParams,
          body,
          response: { 200: replySchema, ...s.bodyProblemReplies },
        },
      },
      async (request) => {
        const { userID, ...rest } = request.body as { userID: string } & Record<string, unknown>;
        const command = { type: name, actor: apiActor(userID), ...rest } as CallCommand;
        return deps.calls.execute(request.params.callID, command);
      },
    );
  };
  commandRoute(
    "cancel",
    bodies.cancelBody,
    "Cancel invitations on behalf of the inviter (callCancel)",
  );
  commandRoute("accept", bodies.actAsBody, "Accept on behalf of an invitee (callAccept)");
  commandRoute("reject", bodies.actAsBody, "Reject on behalf of an invitee (callReject)");
  commandRoute(
    "end",
    bodies.actWithPushBody,
    "End an advanced call on behalf of a member (callEnd)",
  );
  commandRoute(
    "quit",
    bodies.actWithPushBody,
    "Leave an advanced call on behalf of a member (callQuit)",
  );

  api.post(
    "/calls/:callID/invite",
    {
      config: { scope: "write" },
      schema: {
        tags: ["calls"],
        operationId: "inviteToCall",
        summary: "Invite more users to an advanced call on behalf of a member (callingInvite)",
        params: s.callIDParams,
        body: s.callingInviteBody,
        response: { 200: s.callingInviteReply, ...s.bodyProblemReplies },
      },
    },
    async (request) => {
      const { userID, invitees, pushConfig } = request.body;
      return await deps.calls.inviteMore(request.params.callID, {
        type: "callingInvite",
        actor: apiActor(userID),
        invitees,
        ...(pushConfig ? { pushConfig } : {}),
      });
    },
  );
}
