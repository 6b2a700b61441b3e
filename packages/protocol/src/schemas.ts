// Structural validation of client frames. Shapes only: the SPEC's limits (timeout range, invitee
// count, extendedData size, …) are the engine's to judge, so they get the engine's error codes.
import { z } from "zod";
import type { OperationMap, OperationName } from "./frames.js";
import { MAX_QUERY_COUNT } from "./limits.js";

// Generous outer bounds that stop floods of garbage before they reach anything else.
const shortString = z.string().max(256);
const anyExtendedData = z.string().max(65_536);
const userList = z.array(z.string().max(256)).max(100);

/** ZIM's ZIMPushConfig as the SDK sends it; the server API takes it with a default payload. */
export const pushConfigSchema = z.object({
  title: z.string().max(1024),
  content: z.string().max(4096),
  payload: z.string().max(8192),
  resourcesID: z.string().max(256).optional(),
  enableBadge: z.boolean().optional(),
  badgeIncrement: z.number().int().min(0).max(1000).optional(),
  voIPConfig: z
    .object({
      iOSVoIPHandleType: z.number().int().min(1).max(3).optional(),
      iOSVoIPHandleValue: z.string().max(256).optional(),
      iOSVoIPHasVideo: z.boolean().optional(),
    })
    .optional(),
});

const empty = z.object({}).strip();

export const requestSchemas = {
  login: z.object({
    protocolVersion: z.number().int(),
    userID: shortString,
    token: z.string().max(8192),
    deviceID: z.string().min(1).max(64),
    resume: z.object({ epoch: shortString, seq: z.number().int().nonnegative() }).optional(),
    openCalls: z.array(shortString).max(100).optional(),
  }),
  logout: empty,
  renewToken: z.object({ token: z.string().max(8192) }),
  ping: z.object({ ack: z.number().int().nonnegative().optional() }),
  callInvite: z.object({
    invitees: userList,
    timeout: z.number().optional(),
    mode: z.number().int().optional(),
    extendedData: anyExtendedData.optional(),
    enableNotReceivedCheck: z.boolean().optional(),
    pushConfig: pushConfigSchema.optional(),
    idempotencyKey: z.string().min(1).max(64).optional(),
  }),
  callCancel: z.object({
    callID: shortString,
    invitees: userList,
    extendedData: anyExtendedData.optional(),
    pushConfig: pushConfigSchema.optional(),
  }),
  callAccept: z.object({ callID: shortString, extendedData: anyExtendedData.optional() }),
  callReject: z.object({ callID: shortString, extendedData: anyExtendedData.optional() }),
  callAck: z.object({ callID: shortString }),
  callingInvite: z.object({
    callID: shortString,
    invitees: userList,
    pushConfig: pushConfigSchema.optional(),
  }),
  callJoin: z.object({ callID: shortString, extendedData: anyExtendedData.optional() }),
  callQuit: z.object({
    callID: shortString,
    extendedData: anyExtendedData.optional(),
    pushConfig: pushConfigSchema.optional(),
  }),
  callEnd: z.object({
    callID: shortString,
    extendedData: anyExtendedData.optional(),
    pushConfig: pushConfigSchema.optional(),
  }),
  queryCallInvitationList: z.object({
    // SPEC §5: a whole count over 100 is treated as 100 (as ZIM does), so it is clamped here
    // where every request passes; anything else stays for the engine to judge.
    count: z
      .number()
      .transform((count) => (Number.isInteger(count) ? Math.min(count, MAX_QUERY_COUNT) : count)),
    nextFlag: z.number().optional(),
  }),
  callTimeline: z.object({ callID: shortString.min(1) }),
} satisfies { [K in OperationName]: z.ZodType<OperationMap[K]["request"]> };

export const requestEnvelopeSchema = z.object({
  id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  op: z.string().max(64),
  data: z.unknown().optional(),
});

export function isOperationName(op: string): op is OperationName {
  return Object.hasOwn(requestSchemas, op);
}
