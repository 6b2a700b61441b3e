// The server API's request and response shapes: one set of zod schemas validates requests and
// generates the OpenAPI document, so every limit the server enforces is a limit the document shows.
import {
  CallInvitationMode,
  CallState,
  CallUserState,
  MAX_QUERY_COUNT,
  USER_ID_PATTERN,
  utf8Length,
} from "@beckon/protocol";
import { pushConfigSchema } from "@beckon/protocol/schemas";
import { z } from "zod";
import { webhookEventTypes } from "../webhooks/webhook-events.js";
import { apiScopes } from "./api-key-store.js";

/** The router refuses longer path segments before any route sees them (find-my-way's default). */
export const MAX_PATH_PARAMETER_LENGTH = 100;
/** The largest request body a route of the API reads; a larger one is refused with 413. */
export const API_BODY_LIMIT_BYTES = 64 * 1024;

export const userID = z
  .string()
  .min(1)
  .max(32)
  .regex(USER_ID_PATTERN, "1–32 bytes of letters, digits and !#$%&()+-:;<=.>?@[]^_{}|~")
  .meta({ description: "An app user's ID", example: "alice" });

/** `extendedData` as the engine takes it: at most `maxBytes` bytes of UTF-8 (server option). */
function extendedData(maxBytes: number) {
  return z
    .string()
    .max(maxBytes)
    .refine((text) => utf8Length(text) <= maxBytes, `at most ${maxBytes} bytes of UTF-8`)
    .meta({
      description: `Passed to the other members; at most ${maxBytes} bytes of UTF-8 (the server's maxExtendedDataBytes)`,
    });
}

export const pushConfig = pushConfigSchema
  // ZIM requires it; an API caller with nothing to pass through may leave it out.
  .extend({ payload: pushConfigSchema.shape.payload.default("") })
  .meta({ id: "PushConfig", description: "ZIM's ZIMPushConfig: what an offline device is pushed" });

export const problemSchema = z
  .object({
    type: z.string().meta({ description: "`urn:beckon:error:<name>`, one per SDK error code" }),
    title: z.string().meta({ description: "The error code's name" }),
    status: z.number().int().min(400).max(599),
    detail: z.string(),
    code: z.number().int().meta({ description: "The SDK's error code (SPEC §7)" }),
  })
  .meta({ id: "Problem", description: "RFC 9457 problem details (application/problem+json)" });

export const callID = z
  .string()
  .min(1)
  .max(MAX_PATH_PARAMETER_LENGTH)
  .meta({ description: "A call's ID, as callInvite returned it" });
export const callIDParams = z.object({ callID });
export const userParams = z.object({ userID });

export const registerUsersBody = z.object({ userIDs: z.array(userID).min(1).max(100) });

export const tokenBody = z.object({
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(86_400),
});
export const tokenReply = z.object({
  userID: z.string(),
  token: z.string(),
  expiresAt: z.number(),
});

const errorUser = z.object({ userID: z.string(), reason: z.number().int() });

/** The bodies that carry `extendedData`, whose limit is the server's option. */
export function callBodies(maxExtendedDataBytes: number) {
  const data = extendedData(maxExtendedDataBytes);
  const createCallBody = z.object({
    caller: userID,
    invitees: z.array(userID).min(1).max(9),
    timeout: z.number().int().min(0).max(600).optional(),
    mode: z.enum(CallInvitationMode).optional(),
    extendedData: data.optional(),
    enableNotReceivedCheck: z.boolean().optional(),
    pushConfig: pushConfig.optional(),
  });
  const actAsBody = z.object({ userID, extendedData: data.optional() });
  const actWithPushBody = actAsBody.extend({ pushConfig: pushConfig.optional() });
  const cancelBody = actWithPushBody.extend({
    invitees: z
      .array(userID)
      .max(9)
      .default([])
      .meta({ description: "Empty: cancel the whole call" }),
  });
  return { createCallBody, actAsBody, actWithPushBody, cancelBody };
}
/** `Idempotency-Key`: a retry of a create with the same key (and caller) gets the first outcome. */
export const idempotencyHeaders = z.object({
  "idempotency-key": z.string().min(1).max(64).optional().meta({
    description:
      "Any string of up to 64 characters, unique per call the caller means to make: a retry with the same key and caller (after a lost reply, to any node) returns the call the first attempt made instead of making a second one",
  }),
});

export const createCallReply = z.object({
  callID: z.string(),
  timeout: z.number().int(),
  errorUserList: z.array(errorUser),
});

export const callingInviteBody = z.object({
  userID,
  invitees: z.array(userID).min(1).max(9),
  pushConfig: pushConfig.optional(),
});
/** What each call operation returns: the same result the SDK's method resolves with. */
export const commandReplies = {
  cancel: z.object({
    callID: z.string(),
    errorInvitees: z.array(z.string()).meta({ description: "Invitees that were not cancelled" }),
  }),
  accept: z.object({ callID: z.string() }),
  reject: z.object({ callID: z.string() }),
  quit: z.object({
    callID: z.string(),
    createTime: z.number(),
    acceptTime: z.number(),
    quitTime: z.number(),
  }),
  end: z.object({
    callID: z.string(),
    createTime: z.number(),
    acceptTime: z.number(),
    endTime: z.number(),
  }),
};
export const callingInviteReply = z.object({
  callID: z.string(),
  errorUserList: z.array(errorUser),
});

const member = z.object({
  userID: z.string(),
  state: z.enum(CallUserState),
  inviter: z.string(),
  extendedData: z.string(),
  inviteTime: z.number(),
  deadline: z.number(),
  acceptTime: z.number(),
  quitTime: z.number(),
  mainDevice: z.string().nullable(),
});

const timelineEntry = z.object({
  at: z.number(),
  kind: z.string().meta({
    description:
      "A fact (`call.created`, `member.invited`, `member.accepted`, …, `call.ended`); " +
      "`invitation.sent` / `invitation.received` (to / from the device named); " +
      "`device.told`: another event of the call put on the device's stream, detail " +
      "`{ event, users? }` (users: for `callUserStateChanged`, each user named with its new " +
      "state); or `push.queued|sent|failed|expired`",
  }),
  userID: z.string().optional(),
  deviceID: z.string().optional(),
  detail: z.record(z.string(), z.unknown()),
});

const deviceTimeline = z.object({
  userID: z.string(),
  deviceID: z.string(),
  /** When the server first put the invitation on this device's event stream. */
  sentAt: z.number().optional(),
  /** The receipt (the SDK acknowledged the invitation on this device). */
  receivedAt: z.number().optional(),
  pushes: z.array(
    z.object({
      kind: z.string(),
      status: z.string(),
      provider: z.string(),
      queuedAt: z.number(),
      doneAt: z.number(),
      httpStatus: z.number(),
      reason: z.string(),
    }),
  ),
  /** What the member did from this device (accepted, rejected, joined, quit) and when. */
  answers: z.array(z.object({ kind: z.string(), at: z.number() })),
});

export const callView = z
  .object({
    callID: z.string(),
    caller: z.string(),
    mode: z.enum(CallInvitationMode),
    state: z.enum(CallState),
    createTime: z.number(),
    endTime: z.number(),
    timeout: z.number(),
    extendedData: z.string(),
    members: z.array(member),
    timeline: z.array(timelineEntry),
    devices: z.array(deviceTimeline).meta({
      description:
        "Per member and device: when the invitation was sent, received, pushed, answered",
    }),
  })
  .meta({ id: "Call" });

export const listCallsQuery = z.object({
  count: z.coerce.number().int().min(1).max(MAX_QUERY_COUNT).default(20),
  nextFlag: z.coerce.number().int().min(0).default(0),
});
const callInfo = z.object({
  callID: z.string(),
  caller: z.string(),
  inviter: z.string(),
  createTime: z.number(),
  endTime: z.number(),
  state: z.number(),
  mode: z.number(),
  extendedData: z.string(),
  callUserList: z.array(
    z.object({ userID: z.string(), state: z.number(), extendedData: z.string() }),
  ),
});
export const listCallsReply = z.object({ callList: z.array(callInfo), nextFlag: z.number() });

export const pushTarget = z
  .discriminatedUnion("provider", [
    z.object({
      provider: z.literal("webpush"),
      endpoint: z.url({ protocol: /^https?$/ }).max(2048),
      keys: z.object({ p256dh: z.string().min(1).max(256), auth: z.string().min(1).max(64) }),
    }),
    z.object({ provider: z.literal("fcm"), token: z.string().min(1).max(4096) }),
    z.object({
      provider: z.literal("apns"),
      token: z.string().regex(/^[0-9a-fA-F]{16,200}$/),
      voip: z.boolean().default(true),
    }),
    z.object({ provider: z.literal("http"), token: z.string().min(1).max(4096) }),
  ])
  .meta({ id: "PushTarget" });

export const addRegistrationBody = z.object({
  deviceID: z.string().min(1).max(128),
  target: pushTarget,
});
export const registration = z
  .object({
    id: z.string(),
    userID: z.string(),
    deviceID: z.string(),
    target: pushTarget,
    createdAt: z.number(),
  })
  .meta({ id: "PushRegistration" });
export const registrationParams = z.object({ userID, registrationID: z.string().min(1).max(64) });

export const userReply = z.object({
  userID: z.string(),
  known: z.boolean(),
  devices: z.array(z.object({ deviceID: z.string(), online: z.boolean(), awaySince: z.number() })),
});

const eventType = z.enum(webhookEventTypes);
export const addEndpointBody = z.object({
  url: z.url({ protocol: /^https?$/ }).max(2048),
  events: z.array(eventType).min(1).optional().meta({ description: "Absent: every event" }),
  description: z.string().max(500).default(""),
});
export const endpointView = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(eventType).nullable(),
    description: z.string(),
    createdAt: z.number(),
  })
  .meta({ id: "WebhookEndpoint" });
export const endpointCreated = endpointView.extend({
  secret: z.string().meta({ description: "Verify signatures with it; shown only now" }),
});
export const endpointParams = z.object({ endpointID: z.string().min(1).max(64) });
export const deliveryParams = z.object({ deliveryID: z.string().min(1).max(64) });
export const listDeliveriesQuery = z.object({
  status: z.enum(["pending", "delivered", "dead"]).optional(),
  endpointID: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  before: z.string().max(128).optional().meta({ description: "`next` of the previous page" }),
});
const attempt = z.object({
  attempt: z.number(),
  at: z.number(),
  httpStatus: z.number(),
  error: z.string(),
  durationMs: z.number(),
});
export const deliveryView = z
  .object({
    id: z.string(),
    endpointID: z.string(),
    type: eventType,
    status: z.enum(["pending", "delivered", "dead"]),
    attempts: z.number(),
    nextAttemptAt: z.number(),
    createdAt: z.number(),
    lastStatus: z.number(),
    lastError: z.string(),
    doneAt: z.number(),
    payload: z.unknown(),
  })
  .meta({ id: "WebhookDelivery" });
export const deliveryWithAttempts = deliveryView.extend({ attemptLog: z.array(attempt) });
export const deliveriesReply = z.object({
  deliveries: z.array(deliveryView),
  next: z.string().nullable(),
});

export const apiKeyBody = z.object({
  name: z.string().min(1).max(100),
  scopes: z.array(z.enum(apiScopes)).min(1),
});
export const apiKeyView = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(apiScopes)),
  createdAt: z.number(),
  lastUsedAt: z.number(),
});
export const apiKeyCreated = apiKeyView.extend({ key: z.string() });
export const apiKeyParams = z.object({ keyID: z.string().min(1).max(64) });

export const noContent = z.null().meta({ description: "No content" });
export const ownRegistrationParams = z.object({ registrationID: z.string().min(1).max(64) });
export const webPushKeyReply = z.object({ publicKey: z.string() });

const refusalDescriptions = {
  400: "Invalid request (code 6000001): a path parameter, the query or the body breaks the schema",
  401: "No valid credentials; the WWW-Authenticate header says which",
  403: "The API key lacks the route's scope, or the member may not do this in the call",
  404: "No such call, user resource, key or delivery",
  409: "The call's or delivery's state does not allow this now",
  413: `The body is larger than ${API_BODY_LIMIT_BYTES} bytes`,
  415: "The body is not application/json",
  422: "An invitee is unknown, or a call's member limit would be exceeded",
  429: "Too many requests for this API key or user; slow down",
  500: "The server could not do this; try again",
  503: "The node is past its load bound (code 6000020: nothing was done) or cannot reach its database or Redis (6000102); retry shortly, after Retry-After seconds when given",
};

type RefusalStatus = keyof typeof refusalDescriptions;

interface ProblemReply {
  description: string;
  content: { "application/problem+json": { schema: typeof problemSchema } };
}

function refusals<S extends RefusalStatus>(...statuses: S[]): Record<S, ProblemReply> {
  const replies = {} as Record<S, ProblemReply>;
  for (const status of statuses) {
    replies[status] = {
      description: refusalDescriptions[status],
      content: { "application/problem+json": { schema: problemSchema } },
    };
  }
  return replies;
}

/** The refusals a route behind an API key or login token may answer with. */
export const problemReplies = refusals(400, 401, 403, 404, 409, 422, 429, 500, 503);
/** …and, when it reads a body, those of the body parser. */
export const bodyProblemReplies = refusals(400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503);
/** The refusals of a route that needs no credentials. */
export const publicProblemReplies = refusals(404, 500, 503);
