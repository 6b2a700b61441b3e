// What an offline push carries and where it goes: the shapes every provider and the push hook
// share, independent of any one push service.
import type { CallInvitationMode } from "@beckon/protocol";

/** Which call event a push stands for (SPEC §5 "Offline"). */
export type PushKind = "invite" | "cancel" | "quit" | "end";

/** ZIM's `ZIMVoIPConfig`: how iOS CallKit shows the incoming call. */
export interface VoIPConfig {
  /** ZIM's `ZIMCXHandleType`: 1 generic, 2 phone number, 3 email address. */
  iOSVoIPHandleType?: number;
  iOSVoIPHandleValue?: string;
  iOSVoIPHasVideo?: boolean;
}

/**
 * A call's `pushConfig` with the fields of ZIM's `ZIMPushConfig` that Beckon keeps for the
 * providers that use them (APNs reads the badge and VoIP fields; the others pass them through).
 */
export interface PushContent {
  title: string;
  content: string;
  payload: string;
  resourcesID?: string;
  enableBadge?: boolean;
  badgeIncrement?: number;
  voIPConfig?: VoIPConfig;
}

export interface PushMessage extends PushContent {
  kind: PushKind;
  callID: string;
  caller: string;
  /** Who invited the recipient (invite), or who cancelled, quit or ended. */
  operatedUserID: string;
  mode: CallInvitationMode;
  /**
   * Epoch ms when the recipient's invitation times out (0 when it has none): a phone woken late
   * counts down what is left, one woken after it shows a missed call instead of ringing.
   */
  deadline: number;
  /** Server time the push was built (epoch ms). */
  sentAt: number;
}

/** Where one device wants its pushes, per provider. */
export type PushTarget =
  /** A browser's `PushSubscription.toJSON()`. */
  | { provider: "webpush"; endpoint: string; keys: { p256dh: string; auth: string } }
  /** An FCM registration token. */
  | { provider: "fcm"; token: string }
  /** An APNs device token; `voip` for a PushKit token (calls go as `apns-push-type: voip`). */
  | { provider: "apns"; token: string; voip: boolean }
  /** An opaque token the app's own push gateway understands. */
  | { provider: "http"; token: string };

export type PushProviderName = PushTarget["provider"];

export interface PushRegistration {
  /** Server-generated. */
  id: string;
  userID: string;
  /** The SDK device the registration belongs to (its app install). */
  deviceID: string;
  target: PushTarget;
  createdAt: number;
}

export type PushResult =
  | { ok: true; status: number; providerMessageID?: string }
  | {
      ok: false;
      /** HTTP status, or 0 when no answer came (network error, timeout). */
      status: number;
      reason: string;
      /** The registration is dead for good (410, `Unregistered`, `BadDeviceToken`): remove it. */
      expired: boolean;
      /** Worth another try later (5xx, 429, network). */
      retryable: boolean;
    };

export interface PushProvider {
  readonly name: PushProviderName;
  /** Sends one push; never throws for a refusal, only reports it. */
  send(registration: PushRegistration, message: PushMessage): Promise<PushResult>;
  close?(): Promise<void>;
}

/** Seconds a push service may hold the message: an invitation is worthless after its deadline. */
export function pushTtlSeconds(message: PushMessage, now: number): number {
  if (message.kind === "invite" && message.deadline > 0) {
    return Math.max(0, Math.ceil((message.deadline - now) / 1000));
  }
  // A cancel/quit/end only matters while a pushed invitation may still ring.
  return 600;
}

/** The message as flat string pairs, for providers whose data fields are strings (FCM). */
export function messageData(message: PushMessage): Record<string, string> {
  const data: Record<string, string> = {
    beckon: "1",
    kind: message.kind,
    callID: message.callID,
    caller: message.caller,
    operatedUserID: message.operatedUserID,
    mode: String(message.mode),
    deadline: String(message.deadline),
    sentAt: String(message.sentAt),
    title: message.title,
    content: message.content,
    payload: message.payload,
  };
  if (message.resourcesID !== undefined) data.resourcesID = message.resourcesID;
  if (message.voIPConfig !== undefined) data.voIPConfig = JSON.stringify(message.voIPConfig);
  return data;
}

/** Classifies a refusal by status when a provider has nothing more specific to say. */
export function failure(status: number, reason: string, expired = false): PushResult {
  return {
    ok: false,
    status,
    reason,
    expired,
    retryable: !expired && (status === 0 || status === 429 || status >= 500),
  };
}
