// The webhook event types (SPEC §8 names, plus the states ZIM callbacks do not have) and how a
// committed fact becomes one.
import type { Fact } from "@beckon/engine";

export const webhookEventTypes = [
  "call_create",
  "call_invite",
  "call_receive",
  "call_not_yet_received",
  "call_accept",
  "call_reject",
  "call_cancel",
  "call_timeout",
  "call_join",
  "call_quit",
  "call_end",
  "push_failed",
] as const;

export type WebhookEventType = (typeof webhookEventTypes)[number];

export function isWebhookEventType(value: unknown): value is WebhookEventType {
  return (webhookEventTypes as readonly unknown[]).includes(value);
}

/** The JSON an endpoint receives (Standard Webhooks' recommended `{type, timestamp, data}`). */
export interface WebhookPayload {
  type: WebhookEventType;
  /** ISO 8601 time the event happened. */
  timestamp: string;
  data: Record<string, unknown>;
}

const typeOfFact: Record<Fact["kind"], WebhookEventType> = {
  "call.created": "call_create",
  "member.invited": "call_invite",
  "member.received": "call_receive",
  "member.notYetReceived": "call_not_yet_received",
  "member.accepted": "call_accept",
  "member.rejected": "call_reject",
  "member.cancelled": "call_cancel",
  "member.timedOut": "call_timeout",
  "member.joined": "call_join",
  "member.quit": "call_quit",
  "call.ended": "call_end",
};

/** The event a fact stands for, with the fact's fields as its data. */
export function payloadOfFact(fact: Fact): WebhookPayload {
  const { kind, ...fields } = fact;
  const data: Record<string, unknown> = { ...fields };
  // Only Beckon's push hook reads a fact's pushConfig; it is not the app backend's business.
  delete data.pushConfig;
  if (kind === "member.cancelled") {
    // SPEC §8: a timer (the caller lost and never came back) cancels with `timeout_cancel`.
    data.reason = fact.by ? "caller_cancel" : "timeout_cancel";
  }
  return { type: typeOfFact[kind], timestamp: new Date(fact.at).toISOString(), data };
}
