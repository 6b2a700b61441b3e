// The request and reply shapes of the operator routes (the console's, and any admin tool's).
import { z } from "zod";
import { apiScopes } from "../api/api-key-store.js";

export const signInBody = z.object({
  key: z.string().min(1).max(200).meta({ description: "An API key with the admin scope" }),
  actions: z
    .boolean()
    .default(false)
    .meta({ description: "Allow actions (cancel, end, replay); absent: a read-only session" }),
});

export const sessionView = z
  .object({
    keyID: z.string(),
    keyName: z.string(),
    scopes: z.array(z.enum(apiScopes)),
    actions: z.boolean(),
    expiresAt: z.number(),
  })
  .meta({ id: "ConsoleSession" });

export const callSummary = z
  .object({
    callID: z.string(),
    caller: z.string(),
    mode: z.number().int(),
    state: z.number().int(),
    createTime: z.number(),
    endTime: z.number(),
    version: z.number().int(),
    members: z.array(z.object({ userID: z.string(), state: z.number().int() })),
  })
  .meta({ id: "CallSummary" });

export const eventsQuery = z.object({
  callID: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .meta({ description: "Also stream this call's every change as `event: call`" }),
});

export const listCallsQuery = z.object({
  state: z
    .enum(["ringing", "started", "recent"])
    .default("started")
    .meta({ description: "ringing: someone is still pending; started: not ended; recent: any" }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const callListReply = z.object({ calls: z.array(callSummary) });

export const devicesReply = z.object({
  userID: z.string(),
  devices: z.array(
    z.object({
      deviceID: z.string(),
      online: z.boolean(),
      nodeID: z.string().meta({ description: "The node the device's socket is (or was last) on" }),
      loginTime: z.number(),
      awaySince: z.number().meta({ description: "0 while connected" }),
      platform: z
        .string()
        .meta({ description: "What the device's push registrations say: web, android, ios, app" }),
      pushRegistrations: z.array(
        z.object({ id: z.string(), provider: z.string(), createdAt: z.number() }),
      ),
    }),
  ),
  /** Registrations of devices that have no session now (the app was killed). */
  offlineRegistrations: z.array(
    z.object({ id: z.string(), deviceID: z.string(), provider: z.string(), createdAt: z.number() }),
  ),
});

const minutePoint = z.object({
  at: z.number(),
  rings: z.number(),
  p50: z.number().nullable(),
  p99: z.number().nullable(),
});

export const snapshotView = z
  .object({
    at: z.number(),
    devicesOnline: z.number(),
    nodes: z
      .array(
        z.object({
          nodeID: z.string(),
          devicesOnline: z.number(),
          rings: z.number().meta({ description: "Invitations this node counted, last hour" }),
          delivered: z
            .number()
            .meta({ description: "Rings this node delivered to a device, last hour" }),
          shed: z.number(),
        }),
      )
      .meta({ description: "Each node's share of the sums (the cluster's nodes seen lately)" }),
    minutes: z.array(minutePoint).meta({ description: "The last hour, a point per minute (ms)" }),
    rings: z.number().meta({ description: "Invitations over the last hour" }),
    latency: z.object({
      p50: z.number().nullable(),
      p99: z.number().nullable(),
      count: z.number(),
    }),
    shed: z.number().nullable().meta({ description: "Refused invitations; null: not counted" }),
    calls: z.object({ ringing: z.number(), started: z.number() }),
    failed: z.object({ pushes: z.number(), webhooks: z.number() }).nullable(),
    liveCalls: z.array(callSummary),
  })
  .meta({ id: "ConsoleSnapshot" });

export const integrationsReply = z.object({
  webhooks: z.array(
    z.object({
      id: z.string(),
      url: z.string(),
      description: z.string(),
      state: z.enum(["live", "paused"]),
      pausedUntil: z.number(),
      queueDepth: z.number(),
      delivered: z.number().meta({ description: "Over the last hour" }),
      dead: z.number().meta({ description: "Over the last hour" }),
      lastError: z.object({ at: z.number(), httpStatus: z.number(), error: z.string() }).nullable(),
    }),
  ),
  push: z.array(
    z.object({
      provider: z.string(),
      configured: z.boolean(),
      sent: z.number(),
      failed: z.number(),
      expired: z.number(),
      queued: z.number(),
    }),
  ),
  since: z.number(),
});
