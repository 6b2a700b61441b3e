// The operator routes of the server API: console sign-in (an admin key for a session cookie),
// the live event stream and snapshot, calls by state, a user's devices, and the integrations'
// health. The console uses only these and the rest of the public API, so an app's own admin
// tools can do all it does.
import { ErrorCode } from "@beckon/protocol";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { ApiKey } from "../api/api-key-store.js";
import * as s from "../api/api-schemas.js";
import type { CallView } from "../api/call-view.js";
import { ApiProblem } from "../api/problem.js";
import type { Presence } from "../presence/presence.js";
import type { PushRegistrationStore } from "../push/push-registration-store.js";
import type { PushRegistration } from "../push/push-types.js";
import type { CallStore } from "../store/call-store.js";
import type { WebhookStore } from "../webhooks/webhook-store.js";
import { type ConsoleFeed, callSummary } from "./console-feed.js";
import * as c from "./console-schemas.js";
import {
  type ConsoleSession,
  type ConsoleSessions,
  CSRF_HEADER,
  sessionCookie,
  sessionToken,
} from "./console-sessions.js";
import type { IntegrationHealth } from "./integration-health.js";

export interface ConsoleRouteDependencies {
  sessions: ConsoleSessions;
  feed: ConsoleFeed;
  store: Pick<CallStore, "listCalls">;
  presence: Pick<Presence, "devicesOf">;
  pushRegistrations: Pick<PushRegistrationStore, "listOf">;
  webhooks?: { store: Pick<WebhookStore, "listEndpoints"> };
  health?: IntegrationHealth;
  /** A call as GET /calls/{id} shows it (for the stream's `call` events); undefined: none. */
  callView?: (callID: string) => Promise<CallView | undefined>;
  /** The push providers this server is configured with. */
  pushProviders: readonly string[];
  clock?: () => number;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The console session that authenticated the request, when a cookie did. */
    consoleSession?: ConsoleSession;
  }
}

const HOUR = 3_600_000;
/** Sent now and then so proxies keep an idle stream open. */
const KEEPALIVE_MS = 15_000;

function secure(request: FastifyRequest): boolean {
  return request.protocol === "https" || request.headers["x-forwarded-proto"] === "https";
}

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The API key a console session cookie stands for, when the request has no API key of its own:
 * refused when the session is forged, expired or read-only for an action, or when an action
 * lacks the CSRF header. A session past half its life gets a fresh cookie.
 */
export async function consoleSessionKey(
  request: FastifyRequest,
  reply: FastifyReply,
  sessions: ConsoleSessions,
): Promise<ApiKey | undefined> {
  const token = sessionToken(request.headers.cookie);
  if (!token) return undefined;
  const session = await sessions.verify(token);
  if (!session) {
    void reply.header("set-cookie", sessionCookie("", 0, secure(request)));
    throw new ApiProblem(401, ErrorCode.TokenInvalid, "the console session ended; sign in again");
  }
  if (!safeMethods.has(request.method)) {
    if (request.headers[CSRF_HEADER] !== "1") {
      throw new ApiProblem(
        403,
        ErrorCode.TokenInvalid,
        `a console session's actions carry the ${CSRF_HEADER} header`,
      );
    }
    if (!session.actions) {
      throw new ApiProblem(
        403,
        ErrorCode.TokenInvalid,
        "this console session is read-only; sign in with actions allowed",
      );
    }
  }
  request.consoleSession = session;
  if (session.expiresAt - sessions.now() < sessions.ttlMs / 2) {
    const renewed = await sessions.renew(session);
    request.consoleSession = renewed.session;
    void reply.header(
      "set-cookie",
      sessionCookie(renewed.token, Math.floor(sessions.ttlMs / 1000), secure(request)),
    );
  }
  return session.key;
}

/** What a device's push registrations say it is. */
function platformOf(registrations: readonly PushRegistration[]): string {
  const providers = new Set(registrations.map((registration) => registration.target.provider));
  if (providers.has("apns")) return "ios";
  if (providers.has("fcm")) return "android";
  if (providers.has("webpush")) return "web";
  if (providers.has("http")) return "app";
  return "unknown";
}

function sessionView(session: ConsoleSession) {
  return {
    keyID: session.key.id,
    keyName: session.key.name,
    scopes: session.key.scopes,
    actions: session.actions,
    expiresAt: session.expiresAt,
  };
}

export async function consoleRoutes(
  app: FastifyInstance,
  deps: ConsoleRouteDependencies,
): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const clock = deps.clock ?? Date.now;
  const { sessions, feed } = deps;

  api.post(
    "/console/session",
    {
      schema: {
        tags: ["console"],
        operationId: "signInConsole",
        summary: "Sign in to the console: an admin API key for a session cookie",
        description:
          "The reply sets an HttpOnly, SameSite=Strict cookie scoped to /api; requests with it " +
          `need no key. Actions (non-GET) also need the \`${CSRF_HEADER}: 1\` header and a ` +
          "session opened with `actions: true`.",
        security: [],
        body: c.signInBody,
        response: { 200: c.sessionView, ...s.bodyProblemReplies },
      },
    },
    async (request, reply) => {
      const result = await sessions.signIn(request.body.key, request.body.actions);
      if (!result.ok) throw new ApiProblem(result.status, ErrorCode.TokenInvalid, result.reason);
      void reply.header(
        "set-cookie",
        sessionCookie(result.token, Math.floor(sessions.ttlMs / 1000), secure(request)),
      );
      return sessionView(result.session);
    },
  );

  api.get(
    "/console/session",
    {
      config: { scope: "read" },
      schema: {
        tags: ["console"],
        operationId: "getConsoleSession",
        summary: "The console session the cookie carries",
        response: { 200: c.sessionView, ...s.problemReplies },
      },
    },
    async (request) => {
      if (!request.consoleSession) {
        throw new ApiProblem(401, ErrorCode.TokenInvalid, "no console session; sign in");
      }
      return sessionView(request.consoleSession);
    },
  );

  api.delete(
    "/console/session",
    {
      schema: {
        tags: ["console"],
        operationId: "signOutConsole",
        summary: "Sign out of the console (clears the session cookie)",
        security: [],
        response: { 204: s.noContent, ...s.publicProblemReplies },
      },
    },
    async (request, reply) =>
      reply
        .code(204)
        .header("set-cookie", sessionCookie("", 0, secure(request)))
        .send(null),
  );

  api.get(
    "/stats",
    {
      config: { scope: "read" },
      schema: {
        tags: ["console"],
        operationId: "getStats",
        summary: "The deployment now: calls, devices online, rings and ring latency (last hour)",
        response: { 200: c.snapshotView, ...s.problemReplies },
      },
    },
    async () => feed.snapshot(),
  );

  /**
   * A watched call's view (JSON) once per snapshot, however many streams watch it: one read of
   * the store per call a second, only while someone watches.
   */
  const watched = new WeakMap<object, Map<string, Promise<string | undefined>>>();
  const watchedCall = (tick: object, callID: string): Promise<string | undefined> => {
    let views = watched.get(tick);
    if (!views) {
      views = new Map();
      watched.set(tick, views);
    }
    let view = views.get(callID);
    if (!view) {
      view = (deps.callView?.(callID) ?? Promise.resolve(undefined)).then(
        (found) => (found ? JSON.stringify(found) : undefined),
        (error: unknown) => {
          app.log.warn({ err: error, callID }, "console call view failed");
          return undefined;
        },
      );
      views.set(callID, view);
    }
    return view;
  };

  api.get(
    "/events",
    {
      config: { scope: "read" },
      schema: {
        tags: ["console"],
        operationId: "streamEvents",
        summary: "The same as /stats, live, as Server-Sent Events (and one call's every step)",
        description:
          "`text/event-stream`: an `event: snapshot` whose data is a ConsoleSnapshot at once, " +
          "then whenever it changes (checked every second). With `callID`, also an " +
          "`event: call` whose data is that call as `GET /calls/{callID}` answers (a CallView) " +
          "at once and whenever anything in it changes: a member's state, a send, a receipt, " +
          "a device told, a push's result. Works with EventSource; a comment line keeps an " +
          "idle stream open.",
        querystring: c.eventsQuery,
        response: {
          200: {
            description: "A stream of `snapshot` events (text/event-stream)",
            content: { "text/event-stream": { schema: z.string() } },
          },
          ...s.problemReplies,
        },
      },
    },
    async (request, reply) => {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        ...(reply.getHeaders() as Record<string, string>),
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        connection: "keep-alive",
        // Proxies that buffer responses (nginx) pass this stream through at once.
        "x-accel-buffering": "no",
      });
      raw.write("retry: 3000\n\n");
      let last = "";
      let lastCall = "";
      const { callID } = request.query;
      const unsubscribe = feed.subscribe((snapshot) => {
        const { at: _at, ...content } = snapshot;
        const key = JSON.stringify(content);
        if (key !== last) {
          last = key;
          raw.write(`event: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`);
        }
        if (callID === undefined) return;
        void watchedCall(snapshot, callID).then((view) => {
          if (view === undefined || view === lastCall || raw.destroyed) return;
          lastCall = view;
          raw.write(`event: call\ndata: ${view}\n\n`);
        });
      });
      const keepalive = setInterval(() => raw.write(": keepalive\n\n"), KEEPALIVE_MS);
      keepalive.unref();
      request.raw.socket.once("close", () => {
        clearInterval(keepalive);
        unsubscribe();
      });
    },
  );

  api.get(
    "/calls",
    {
      config: { scope: "read" },
      schema: {
        tags: ["calls"],
        operationId: "listCalls",
        summary: "Calls by state, newest first: ringing, started, or any recent one",
        querystring: c.listCallsQuery,
        response: { 200: c.callListReply, ...s.problemReplies },
      },
    },
    async (request) => {
      const { state, limit } = request.query;
      return { calls: (await deps.store.listCalls(state, limit)).map(callSummary) };
    },
  );

  api.get(
    "/users/:userID/devices",
    {
      config: { scope: "read" },
      schema: {
        tags: ["users"],
        operationId: "listUserDevices",
        summary: "The user's devices: online where and since, platform, push registrations",
        params: s.userParams,
        response: { 200: c.devicesReply, ...s.problemReplies },
      },
    },
    async (request) => {
      const { userID } = request.params;
      const [devices, registrations] = await Promise.all([
        deps.presence.devicesOf(userID),
        deps.pushRegistrations.listOf(userID),
      ]);
      const sessionDevices = new Set(devices.map((device) => device.deviceID));
      const brief = (registration: PushRegistration) => ({
        id: registration.id,
        provider: registration.target.provider,
        createdAt: registration.createdAt,
      });
      return {
        userID,
        devices: devices.map((device) => {
          const own = registrations.filter((r) => r.deviceID === device.deviceID);
          return {
            deviceID: device.deviceID,
            online: device.awaySince === 0,
            nodeID: device.nodeID,
            loginTime: device.loginTime,
            awaySince: device.awaySince,
            platform: platformOf(own),
            pushRegistrations: own.map(brief),
          };
        }),
        offlineRegistrations: registrations
          .filter((registration) => !sessionDevices.has(registration.deviceID))
          .map((registration) => ({ ...brief(registration), deviceID: registration.deviceID })),
      };
    },
  );

  api.get(
    "/integrations",
    {
      config: { scope: "admin" },
      schema: {
        tags: ["webhooks", "push"],
        operationId: "getIntegrationHealth",
        summary: "Webhook endpoints' state and the push providers' last hour",
        response: { 200: c.integrationsReply, ...s.problemReplies },
      },
    },
    async () => {
      const now = clock();
      const since = now - HOUR;
      const [endpoints, health, pushes] = await Promise.all([
        deps.webhooks?.store.listEndpoints() ?? [],
        deps.health?.endpoints(since) ?? [],
        deps.health?.pushes(since) ?? [],
      ]);
      const byID = new Map(health.map((entry) => [entry.endpointID, entry]));
      const providers = new Set([...deps.pushProviders, ...pushes.map((p) => p.provider)]);
      return {
        since,
        webhooks: endpoints.map((endpoint) => {
          const state = byID.get(endpoint.id);
          const pausedUntil = state && state.pausedUntil > now ? state.pausedUntil : 0;
          return {
            id: endpoint.id,
            url: endpoint.url,
            description: endpoint.description,
            state: pausedUntil > 0 ? ("paused" as const) : ("live" as const),
            pausedUntil,
            queueDepth: state?.queueDepth ?? 0,
            delivered: state?.delivered ?? 0,
            dead: state?.dead ?? 0,
            lastError: state?.lastError ?? null,
          };
        }),
        push: [...providers].sort().map((provider) => {
          const counts = pushes.find((p) => p.provider === provider);
          return {
            provider,
            configured: deps.pushProviders.includes(provider),
            sent: counts?.sent ?? 0,
            failed: counts?.failed ?? 0,
            expired: counts?.expired ?? 0,
            queued: counts?.queued ?? 0,
          };
        }),
      };
    },
  );
}
