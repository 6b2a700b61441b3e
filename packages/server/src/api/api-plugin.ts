// The server API for app backends (SPEC §8), as a Fastify plugin mounted under a prefix (`/api`):
// users, tokens, calls on behalf of members, push registrations, webhooks and API keys. Every
// request needs an API key with the route's scope; every refusal is problem+json with the
// SDK's error codes; `/openapi.json` is generated from the schemas that validate requests.

import type { Actor, Call, CallCommand, InviteCommand, ReplyOf } from "@beckon/engine";
import { callInfoFor, findMember } from "@beckon/engine";
import {
  BeckonError,
  CallInvitationMode,
  type CallInvitationSentResult,
  CallState,
  ErrorCode,
  isPending,
} from "@beckon/protocol";
import swagger from "@fastify/swagger";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import { decodeJwt } from "jose";
import { signToken, verifyToken } from "../auth-tokens.js";
import type { Presence } from "../presence/presence.js";
import type { PushRegistrationStore } from "../push/push-registration-store.js";
import type { PushTarget } from "../push/push-types.js";
import type { RateLimits } from "../rate-limits/rate-limits.js";
import type { CallStore } from "../store/call-store.js";
import type { DeliveryRecord } from "../timeline/delivery-log-store.js";
import { deviceTimelines, timelineItems } from "../timeline/device-timelines.js";
import type { TimelineEntry } from "../timeline/timeline-hook.js";
import type { WebhookService } from "../webhooks/webhook-service.js";
import type { WebhookDelivery, WebhookStore } from "../webhooks/webhook-store.js";
import { type ApiKey, type ApiKeyStore, type ApiScope, allows } from "./api-key-store.js";
import * as s from "./api-schemas.js";
import { ApiProblem, problem, statusOf } from "./problem.js";

/** What the API needs of the call service: the SDK's operations, run for a given user. */
export interface ApiCallService {
  invite(
    input: Omit<InviteCommand, "type" | "callID" | "knownUsers" | "callerBusy">,
  ): Promise<CallInvitationSentResult>;
  execute<C extends CallCommand>(callID: string, command: C): Promise<ReplyOf<C>>;
}

export interface ApiDependencies {
  /** Signs login tokens (the server's `secret`). */
  secret: string;
  calls: ApiCallService;
  store: Pick<CallStore, "getCall" | "listCallsOf" | "activeCallsOf" | "addUsers" | "knownUsers">;
  presence: Pick<Presence, "devicesOf">;
  keys: ApiKeyStore;
  pushRegistrations: PushRegistrationStore;
  /** Makes a removed user unknown again (until they log in); absent: removal only ends calls. */
  forgetUser?: (userID: string) => Promise<void>;
  /** The facts of a call, for its timeline. */
  timeline?: (callID: string) => Promise<TimelineEntry[]>;
  /** When the server sent each device the call's invitation and when it was acknowledged. */
  deliveries?: (callID: string) => Promise<DeliveryRecord[]>;
  /** Resolves once the facts committed so far reached the hooks, so a read shows them. */
  settled?: () => Promise<void>;
  webhooks?: { store: WebhookStore; service: Pick<WebhookService, "replay"> };
  /** Requests per API key (or per user on login-token routes); absent: no limit. */
  rateLimits?: Pick<RateLimits, "take">;
  /** The VAPID public key pages subscribe with, when Web Push is configured. */
  vapidPublicKey?: string;
  clock?: () => number;
}

/** The device name an API action is recorded under in a call (its "main device"). */
export const API_DEVICE_ID = "server-api";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The API key scope a route needs; absent: no key needed. */
    scope?: ApiScope;
    /** The route acts for the user whose login token is presented instead of an API key. */
    user?: boolean;
  }
  interface FastifyRequest {
    apiKey?: ApiKey;
    /** The user a login token authenticated, on `user` routes. */
    userID?: string;
  }
}

function sendProblem(reply: FastifyReply, status: number, code: ErrorCode, detail: string) {
  return reply
    .code(status)
    .type("application/problem+json")
    .serializer(JSON.stringify)
    .send(problem(status, code, detail));
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === "string" && header.startsWith("Bearer ")) return header.slice(7).trim();
  const key = request.headers["x-api-key"];
  return typeof key === "string" ? key : undefined;
}

function memberView(call: Call) {
  return call.members.map((member) => ({
    userID: member.userID,
    state: member.state,
    inviter: member.inviter,
    extendedData: member.extendedData,
    inviteTime: member.inviteTime,
    deadline: member.deadline,
    acceptTime: member.acceptTime,
    quitTime: member.quitTime,
    mainDevice: member.mainDevice,
  }));
}

function deliveryView(delivery: WebhookDelivery) {
  const { body, ...rest } = delivery;
  return { ...rest, payload: JSON.parse(body) as unknown };
}

function pageCursor(delivery: WebhookDelivery): string {
  return `${delivery.createdAt}.${delivery.id}`;
}

function parseCursor(cursor: string): { createdAt: number; id: string } {
  const dot = cursor.indexOf(".");
  const createdAt = Number(cursor.slice(0, dot));
  if (dot < 1 || !Number.isSafeInteger(createdAt)) {
    throw new BeckonError(ErrorCode.ParamsInvalid, "before must be a `next` value from a reply");
  }
  return { createdAt, id: cursor.slice(dot + 1) };
}

const problemReplies = {
  400: s.problemSchema,
  401: s.problemSchema,
  403: s.problemSchema,
  404: s.problemSchema,
  409: s.problemSchema,
  422: s.problemSchema,
  429: s.problemSchema,
};

export async function beckonApi(app: FastifyInstance, deps: ApiDependencies): Promise<void> {
  const clock = deps.clock ?? Date.now;
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
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

  /** Spends one of the caller's requests; over the budget the request is refused with 429. */
  async function charge(key: string): Promise<void> {
    if (!deps.rateLimits) return;
    // A budget that cannot be checked lets the request through: never refuse all.
    const allowed = await Promise.resolve(deps.rateLimits.take("api", key)).catch(
      (error: unknown) => {
        app.log.warn({ err: error }, "rate limit check failed");
        return true;
      },
    );
    if (allowed) return;
    throw new ApiProblem(
      429,
      ErrorCode.ServerFrequencyLimit,
      "too many requests for this API key or user; slow down",
    );
  }

  app.addHook("onRequest", async (request) => {
    const { scope, user } = request.routeOptions.config;
    if (user) {
      request.userID = await loginTokenUser(bearer(request));
      await charge(`user:${request.userID}`);
      return;
    }
    if (!scope) return;
    const presented = bearer(request);
    if (!presented) {
      throw new ApiProblem(
        401,
        ErrorCode.TokenInvalid,
        "send an API key as `Authorization: Bearer bk_…`",
      );
    }
    const key = await deps.keys.verify(presented, clock());
    if (!key)
      throw new ApiProblem(401, ErrorCode.TokenInvalid, "the API key is unknown or revoked");
    if (!allows(key.scopes, scope)) {
      throw new ApiProblem(
        403,
        ErrorCode.TokenInvalid,
        `this needs an API key with the ${scope} scope`,
      );
    }
    request.apiKey = key;
    await charge(`key:${key.id}`);
  });

  /** The user a login token (the one the SDK logs in with) was issued to. */
  async function loginTokenUser(token: string | undefined): Promise<string> {
    if (!token) {
      throw new ApiProblem(
        401,
        ErrorCode.TokenInvalid,
        "send the user's login token as a Bearer token",
      );
    }
    let subject: unknown;
    try {
      subject = decodeJwt(token).sub;
    } catch {
      throw new ApiProblem(401, ErrorCode.TokenInvalid, "the token is invalid");
    }
    if (typeof subject !== "string")
      throw new ApiProblem(401, ErrorCode.TokenInvalid, "the token is invalid");
    await verifyToken(deps.secret, token, subject);
    return subject;
  }

  const api = app.withTypeProvider<ZodTypeProvider>();
  const actor = (userID: string): Actor => ({ userID, deviceID: API_DEVICE_ID });

  async function existingCall(callID: string): Promise<Call> {
    const call = await deps.store.getCall(callID);
    if (!call) throw new BeckonError(ErrorCode.CallDoesNotExist, "no such call");
    return call;
  }

  api.get("/openapi.json", { schema: { hide: true } }, async (_request, reply) =>
    reply.type("application/json").serializer(JSON.stringify).send(app.swagger()),
  );

  // Users

  api.post(
    "/users",
    {
      config: { scope: "write" },
      schema: {
        tags: ["users"],
        summary: "Register users, so they can be invited before their first login",
        body: s.registerUsersBody,
        response: { 200: s.registerUsersBody, ...problemReplies },
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
        summary: "Whether the user is known, and their devices",
        params: s.userParams,
        response: { 200: s.userReply, ...problemReplies },
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
        summary: "Remove a user: their calls end for them, their push registrations go",
        params: s.userParams,
        response: { 204: s.noContent, ...problemReplies },
      },
    },
    async (request, reply) => {
      const { userID } = request.params;
      for (const call of await deps.store.activeCallsOf(userID)) {
        await leaveCall(call, userID).catch((error: unknown) => {
          // Ended or changed meanwhile: nothing left to leave.
          if (!(error instanceof BeckonError) || error.code === ErrorCode.ServerError) throw error;
        });
      }
      await deps.pushRegistrations.removeAllOf(userID);
      await deps.forgetUser?.(userID);
      return reply.code(204).send(null);
    },
  );

  /** Takes a user out of a running call the way the SDK would: cancel, reject or quit. */
  async function leaveCall(call: Call, userID: string): Promise<void> {
    const member = findMember(call, userID);
    if (!member || call.state !== CallState.Started) return;
    const who = actor(userID);
    if (
      call.caller === userID &&
      !call.members.some((m) => m.userID !== userID && m.acceptTime > 0)
    ) {
      await deps.calls.execute(call.callID, { type: "cancel", actor: who, invitees: [] });
    } else if (isPending(member.state)) {
      await deps.calls.execute(call.callID, {
        type: "reject",
        actor: who,
        extendedData: "user removed",
      });
    } else if (call.mode === CallInvitationMode.Advanced) {
      await deps.calls.execute(call.callID, {
        type: "quit",
        actor: who,
        extendedData: "user removed",
      });
    }
  }

  // Tokens

  api.post(
    "/users/:userID/tokens",
    {
      config: { scope: "write" },
      schema: {
        tags: ["users"],
        summary: "Mint a login token for the user (registering them)",
        params: s.userParams,
        body: s.tokenBody,
        response: { 200: s.tokenReply, ...problemReplies },
      },
    },
    async (request) => {
      const { userID } = request.params;
      const { ttlSeconds } = request.body;
      await deps.store.addUsers([userID]);
      const token = await signToken({ secret: deps.secret, userID, ttlSeconds });
      return { userID, token, expiresAt: clock() + ttlSeconds * 1000 };
    },
  );

  // Calls

  api.post(
    "/calls",
    {
      config: { scope: "write" },
      schema: {
        tags: ["calls"],
        summary: "Start a call on behalf of `caller` (callInvite)",
        body: s.createCallBody,
        response: { 201: s.createCallReply, ...problemReplies },
      },
    },
    async (request, reply) => {
      const { caller, ...config } = request.body;
      const result = await deps.calls.invite({ actor: actor(caller), ...config });
      return reply.code(201).send(result);
    },
  );

  api.get(
    "/calls/:callID",
    {
      config: { scope: "read" },
      schema: {
        tags: ["calls"],
        summary: "A call with its members and timeline",
        params: s.callIDParams,
        response: { 200: s.callView, ...problemReplies },
      },
    },
    async (request) => {
      const call = await existingCall(request.params.callID);
      await deps.settled?.();
      const [facts, deliveries, pushes] = await Promise.all([
        deps.timeline?.(call.callID) ?? [],
        deps.deliveries?.(call.callID) ?? [],
        deps.pushRegistrations.sendsOf(call.callID),
      ]);
      const records = { facts, deliveries, pushes };
      return {
        devices: deviceTimelines(records),
        callID: call.callID,
        caller: call.caller,
        mode: call.mode,
        state: call.state,
        createTime: call.createTime,
        endTime: call.endTime,
        timeout: call.timeout,
        extendedData: call.extendedData,
        members: memberView(call),
        timeline: timelineItems(records),
      };
    },
  );

  api.get(
    "/users/:userID/calls",
    {
      config: { scope: "read" },
      schema: {
        tags: ["calls"],
        summary: "The user's calls, newest first, paged like queryCallInvitationList",
        params: s.userParams,
        querystring: s.listCallsQuery,
        response: { 200: s.listCallsReply, ...problemReplies },
      },
    },
    async (request) => {
      const { userID } = request.params;
      const { count, nextFlag } = request.query;
      const page = await deps.store.listCallsOf(userID, count, nextFlag);
      return { callList: page.calls.map((call) => callInfoFor(call, userID)), nextFlag: page.next };
    },
  );

  const commandRoute = <B extends "cancel" | "accept" | "reject" | "end" | "quit">(
    name: B,
    body: B extends "cancel"
      ? typeof s.cancelBody
      : B extends "end" | "quit"
        ? typeof s.actWithPushBody
        : typeof s.actAsBody,
    summary: string,
  ) => {
    api.post(
      `/calls/:callID/${name}`,
      {
        config: { scope: "write" },
        schema: {
          tags: ["calls"],
          summary,
          params: s.callIDParams,
          body,
          response: { 200: s.commandReply, ...problemReplies },
        },
      },
      async (request) => {
        const { userID, ...rest } = request.body as { userID: string } & Record<string, unknown>;
        const command = { type: name, actor: actor(userID), ...rest } as CallCommand;
        return (await deps.calls.execute(request.params.callID, command)) as Record<
          string,
          unknown
        >;
      },
    );
  };
  commandRoute("cancel", s.cancelBody, "Cancel invitations on behalf of the inviter (callCancel)");
  commandRoute("accept", s.actAsBody, "Accept on behalf of an invitee (callAccept)");
  commandRoute("reject", s.actAsBody, "Reject on behalf of an invitee (callReject)");
  commandRoute("end", s.actWithPushBody, "End an advanced call on behalf of a member (callEnd)");
  commandRoute(
    "quit",
    s.actWithPushBody,
    "Leave an advanced call on behalf of a member (callQuit)",
  );

  api.post(
    "/calls/:callID/invite",
    {
      config: { scope: "write" },
      schema: {
        tags: ["calls"],
        summary: "Invite more users to an advanced call on behalf of a member (callingInvite)",
        params: s.callIDParams,
        body: s.callingInviteBody,
        response: { 200: s.commandReply, ...problemReplies },
      },
    },
    async (request) => {
      const { userID, invitees, pushConfig } = request.body;
      const known = await deps.store.knownUsers(invitees);
      return (await deps.calls.execute(request.params.callID, {
        type: "callingInvite",
        actor: actor(userID),
        invitees,
        ...(pushConfig ? { pushConfig } : {}),
        knownUsers: known,
      })) as unknown as Record<string, unknown>;
    },
  );

  // Push registrations

  api.post(
    "/users/:userID/push-registrations",
    {
      config: { scope: "write" },
      schema: {
        tags: ["push"],
        summary: "Register a device for offline push (replaces its earlier one for the provider)",
        params: s.userParams,
        body: s.addRegistrationBody,
        response: { 201: s.registration, ...problemReplies },
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
        summary: "The user's push registrations",
        params: s.userParams,
        response: { 200: s.registration.array(), ...problemReplies },
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
        summary: "Remove a push registration",
        params: s.registrationParams,
        response: { 204: s.noContent, ...problemReplies },
      },
    },
    async (request, reply) => {
      const { userID, registrationID } = request.params;
      if (!(await deps.pushRegistrations.remove(registrationID, userID))) {
        throw new ApiProblem(404, ErrorCode.ParamsInvalid, "no such push registration");
      }
      return reply.code(204).send(null);
    },
  );

  // A device registers itself with its user's login token, so a page or app needs no API key.

  api.get(
    "/push/web-push-key",
    {
      schema: {
        tags: ["push"],
        summary: "The VAPID public key to subscribe with (`applicationServerKey`)",
        security: [],
        response: { 200: s.webPushKeyReply, ...problemReplies },
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
        summary: "Register this device for offline push, authorized by the user's login token",
        security: [{ loginToken: [] }],
        body: s.addRegistrationBody,
        response: { 201: s.registration, ...problemReplies },
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
        summary: "The login token's user's push registrations",
        security: [{ loginToken: [] }],
        response: { 200: s.registration.array(), ...problemReplies },
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
        summary: "Remove one of the login token's user's push registrations",
        security: [{ loginToken: [] }],
        params: s.ownRegistrationParams,
        response: { 204: s.noContent, ...problemReplies },
      },
    },
    async (request, reply) => {
      if (!(await deps.pushRegistrations.remove(request.params.registrationID, request.userID))) {
        throw new ApiProblem(404, ErrorCode.ParamsInvalid, "no such push registration");
      }
      return reply.code(204).send(null);
    },
  );

  // Webhooks (admin)

  const webhooks = deps.webhooks;
  if (webhooks) {
    const admin = { config: { scope: "admin" as const } };
    api.post(
      "/webhooks/endpoints",
      {
        ...admin,
        schema: {
          tags: ["webhooks"],
          summary: "Add a webhook endpoint",
          body: s.addEndpointBody,
          response: { 201: s.endpointCreated, ...problemReplies },
        },
      },
      async (request, reply) => {
        const { url, events, description } = request.body;
        const endpoint = await webhooks.store.addEndpoint(
          { url, events: events ? [...new Set(events)] : null, description },
          clock(),
        );
        return reply.code(201).send(endpoint);
      },
    );
    api.get(
      "/webhooks/endpoints",
      {
        ...admin,
        schema: {
          tags: ["webhooks"],
          summary: "The webhook endpoints",
          response: { 200: s.endpointView.array(), ...problemReplies },
        },
      },
      async () =>
        (await webhooks.store.listEndpoints()).map(({ secret: _secret, ...endpoint }) => endpoint),
    );
    api.delete(
      "/webhooks/endpoints/:endpointID",
      {
        ...admin,
        schema: {
          tags: ["webhooks"],
          summary: "Remove a webhook endpoint and its queued deliveries",
          params: s.endpointParams,
          response: { 204: s.noContent, ...problemReplies },
        },
      },
      async (request, reply) => {
        if (!(await webhooks.store.removeEndpoint(request.params.endpointID))) {
          throw new ApiProblem(404, ErrorCode.ParamsInvalid, "no such webhook endpoint");
        }
        return reply.code(204).send(null);
      },
    );
    api.get(
      "/webhooks/deliveries",
      {
        ...admin,
        schema: {
          tags: ["webhooks"],
          summary: "Deliveries, newest first (`status=dead` is the dead-letter list)",
          querystring: s.listDeliveriesQuery,
          response: { 200: s.deliveriesReply, ...problemReplies },
        },
      },
      async (request) => {
        const { status, endpointID, limit, before } = request.query;
        const deliveries = await webhooks.store.listDeliveries({
          limit,
          ...(status ? { status } : {}),
          ...(endpointID ? { endpointID } : {}),
          ...(before ? { before: parseCursor(before) } : {}),
        });
        const last = deliveries.at(-1);
        return {
          deliveries: deliveries.map(deliveryView),
          next: deliveries.length === limit && last ? pageCursor(last) : null,
        };
      },
    );
    api.get(
      "/webhooks/deliveries/:deliveryID",
      {
        ...admin,
        schema: {
          tags: ["webhooks"],
          summary: "One delivery with every attempt made",
          params: s.deliveryParams,
          response: { 200: s.deliveryWithAttempts, ...problemReplies },
        },
      },
      async (request) => {
        const delivery = await webhooks.store.getDelivery(request.params.deliveryID);
        if (!delivery) throw new ApiProblem(404, ErrorCode.ParamsInvalid, "no such delivery");
        const attempts = await webhooks.store.attemptsOf(delivery.id);
        return {
          ...deliveryView(delivery),
          attemptLog: attempts.map(({ deliveryID: _id, ...attempt }) => attempt),
        };
      },
    );
    api.post(
      "/webhooks/deliveries/:deliveryID/replay",
      {
        ...admin,
        schema: {
          tags: ["webhooks"],
          summary: "Send a delivered or dead delivery again (same webhook-id)",
          params: s.deliveryParams,
          response: { 202: s.deliveryView, ...problemReplies },
        },
      },
      async (request, reply) => {
        const { deliveryID } = request.params;
        const delivery = await webhooks.store.getDelivery(deliveryID);
        if (!delivery) throw new ApiProblem(404, ErrorCode.ParamsInvalid, "no such delivery");
        if (!(await webhooks.service.replay(deliveryID))) {
          throw new ApiProblem(409, ErrorCode.CallCommonError, "the delivery is still pending");
        }
        const queued = (await webhooks.store.getDelivery(deliveryID)) as WebhookDelivery;
        return reply.code(202).send(deliveryView(queued));
      },
    );
  }

  // API keys (admin)

  api.post(
    "/keys",
    {
      config: { scope: "admin" },
      schema: {
        tags: ["keys"],
        summary: "Create an API key (shown only in this reply)",
        body: s.apiKeyBody,
        response: { 201: s.apiKeyCreated, ...problemReplies },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await deps.keys.create(request.body.name, request.body.scopes, clock())),
  );
  api.get(
    "/keys",
    {
      config: { scope: "admin" },
      schema: {
        tags: ["keys"],
        summary: "The API keys",
        response: { 200: s.apiKeyView.array(), ...problemReplies },
      },
    },
    async () => deps.keys.list(),
  );
  api.delete(
    "/keys/:keyID",
    {
      config: { scope: "admin" },
      schema: {
        tags: ["keys"],
        summary: "Revoke an API key",
        params: s.apiKeyParams,
        response: { 204: s.noContent, ...problemReplies },
      },
    },
    async (request, reply) => {
      if (!(await deps.keys.revoke(request.params.keyID))) {
        throw new ApiProblem(404, ErrorCode.ParamsInvalid, "no such API key");
      }
      return reply.code(204).send(null);
    },
  );
}
