// What the server API needs of the rest of the node, handed to each of its plugins as options.

import type { Actor, CallCommand, InviteCommand, ReplyOf } from "@beckon/engine";
import type { CallInvitationSentResult } from "@beckon/protocol";
import type { Admission } from "../admission/admission.js";
import type { CallService } from "../call-service.js";
import type { ConsoleRouteDependencies } from "../console/console-routes.js";
import type { Presence } from "../presence/presence.js";
import type { PushRegistrationStore } from "../push/push-registration-store.js";
import type { RateLimits } from "../rate-limits/rate-limits.js";
import type { CallStore } from "../store/call-store.js";
import type { DeliveryRecord } from "../timeline/call-log.js";
import type { TimelineEntry } from "../timeline/device-timelines.js";
import type { TokenVerifier } from "../token-verifier.js";
import type { WebhookService } from "../webhooks/webhook-service.js";
import type { WebhookStore } from "../webhooks/webhook-store.js";
import type { ApiKeyStore } from "./api-key-store.js";

/** What the API needs of the call service: the SDK's operations, run for a given user. */
export interface ApiCallService {
  invite(
    input: Omit<InviteCommand, "type" | "callID" | "knownUsers" | "callerBusy">,
    /** A retry with the same key (and caller) gets the first attempt's call. */
    idempotencyKey?: string,
  ): Promise<CallInvitationSentResult>;
  execute<C extends CallCommand>(callID: string, command: C): Promise<ReplyOf<C>>;
  inviteMore: CallService["inviteMore"];
  callList: CallService["callList"];
}

export interface ApiDependencies {
  /** Signs login tokens (the server's `secret`, with its key ID). */
  secret: string;
  secretKeyID?: string;
  /** Checks the login tokens users call the API with; absent: `secret` alone. */
  tokens?: Pick<TokenVerifier, "identify">;
  calls: ApiCallService;
  store: Pick<CallStore, "getCall" | "activeCallsOf" | "addUsers" | "knownUsers">;
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
  /** Refuses new calls (503, 6000020) while the node is past its load bound. */
  admission?: Pick<Admission, "invitation">;
  webhooks?: { store: WebhookStore; service: Pick<WebhookService, "replay"> };
  /** Requests per API key (or per user on login-token routes); absent: no limit. */
  rateLimits?: Pick<RateLimits, "take">;
  /** The VAPID public key pages subscribe with, when Web Push is configured. */
  vapidPublicKey?: string;
  /** The largest extendedData the engine takes (server option); the schemas refuse more. */
  maxExtendedDataBytes?: number;
  clock?: () => number;
  /** The operator console's sign-in, live stream and read models; absent: no such routes. */
  console?: ConsoleRouteDependencies;
}

/** Where a node mounts the server API. */
export const API_PREFIX = "/api";

/** The device name an API action is recorded under in a call (its "main device"). */
export const API_DEVICE_ID = "server-api";

/** A user acting through the API. */
export function apiActor(userID: string): Actor {
  return { userID, deviceID: API_DEVICE_ID };
}
