// Everything that talks to the world outside the calls — offline push, webhooks, the timeline
// and the server API's stores — built from options, so createServer adds their hooks to the
// outbox relay and mounts the API with a few lines.
import type { Logger } from "pino";
import type { ApiDependencies } from "../api/api-dependencies.js";
import type { ApiKeyStore } from "../api/api-key-store.js";
import type { IntegrationHealth } from "../console/integration-health.js";
import type { Hook } from "../hooks/hook.js";
import type { Presence } from "../presence/presence.js";
import { type ApnsOptions, ApnsProvider } from "../push/apns-provider.js";
import { type FcmOptions, FcmProvider } from "../push/fcm-provider.js";
import { type HttpPushOptions, HttpPushProvider } from "../push/http-push-provider.js";
import { PushDispatcher } from "../push/push-dispatcher.js";
import { PushHook } from "../push/push-hook.js";
import type { PushRegistrationStore } from "../push/push-registration-store.js";
import type { PushProvider } from "../push/push-types.js";
import { loadOrCreateVapidKeys, type VapidKeys } from "../push/vapid-keys.js";
import { WebPushProvider } from "../push/web-push-provider.js";
import type { CallStore } from "../store/call-store.js";
import { deliveriesOf, type StoredDelivery } from "../timeline/call-log.js";
import { type CallRecords, timelineEntries } from "../timeline/device-timelines.js";
import { PendingDeliveries } from "../timeline/pending-deliveries.js";
import { WebhookService } from "../webhooks/webhook-service.js";
import type { WebhookStore } from "../webhooks/webhook-store.js";
import { type IntegrationStores, sqliteIntegrationStores } from "./integration-stores.js";

export interface PushOptions {
  /** Web Push with VAPID keys kept in `dataDir`; `subject` is the operator's contact. */
  webPush?: { subject: string };
  fcm?: FcmOptions;
  apns?: ApnsOptions;
  http?: HttpPushOptions;
}

/** How often a node looks for webhook deliveries other nodes left (with shared stores). */
const WEBHOOK_POLL_MS = 1_000;
/** A push queued by a node this long ago and not sent is that (dead) node's to take over. */
const PUSH_ORPHAN_AFTER_MS = 120_000;

export interface IntegrationOptions {
  /**
   * Where the integrations' tables live: a SQLite file (or ':memory:'; the call store's file is
   * fine), or stores made beforehand (PostgreSQL in a cluster), which `close()` closes.
   */
  database: string | IntegrationStores;
  /** Names this node as the holder of the webhook attempts it makes. */
  nodeID?: string;
  /** The VAPID key pair, already loaded (a cluster's, from PostgreSQL); else `dataDir`'s. */
  vapidKeys?: VapidKeys;
  /** Where the VAPID keys live (needed with `push.webPush` when `vapidKeys` is not given). */
  dataDir?: string;
  push?: PushOptions;
  calls: Pick<CallStore, "getCall" | "logOf" | "recordDeliveries">;
  presence: Pick<Presence, "devicesOf">;
  log?: Logger;
  clock?: () => number;
  /** Webhook retry delays (tests shorten them). */
  webhookRetryDelaysMs?: readonly number[];
  /** Webhook attempts this node starts per second at most (the sender's own pace). */
  webhookMaxPerSecond?: number;
  /** Told of each push left in the store because the dispatcher's window was full. */
  onPushOverflow?: () => void;
}

export interface Integrations {
  /** For the outbox relay, in this order: webhooks, push. */
  hooks: Hook[];
  keys: ApiKeyStore;
  pushRegistrations: PushRegistrationStore;
  webhooks: { store: WebhookStore; service: WebhookService };
  /**
   * Invitations sent to devices and their receipts (the call service records into it); they
   * wait there for their call's next commit.
   */
  deliveries: PendingDeliveries;
  dispatcher: PushDispatcher;
  /** Webhook endpoints' and push providers' health, for operators. */
  health: IntegrationHealth;
  /** The VAPID public key pages subscribe with; undefined without Web Push. */
  vapidPublicKey: string | undefined;
  /** The server API's dependencies, less the call service and the secret. */
  api: Omit<ApiDependencies, "calls" | "secret" | "secretKeyID" | "tokens" | "store">;
  /** A call's facts, deliveries and pushes as stored now, for its timeline. */
  records(callID: string): Promise<CallRecords>;
  /** Starts the webhook worker and resumes pushes a stopped node left queued. */
  start(): Promise<void>;
  /**
   * Forgets finished pushes and finished webhook deliveries older than `time`; call
   * it with the calls' retention cut-off, beside the call store's purge.
   */
  purgeBefore(time: number): Promise<number>;
  close(): Promise<void>;
}

export function createIntegrations(options: IntegrationOptions): Integrations {
  const clock = options.clock ?? Date.now;
  const stores =
    typeof options.database === "string"
      ? sqliteIntegrationStores(options.database)
      : options.database;
  const { keys, pushRegistrations, webhooks: webhookStore } = stores;
  const deliveries = new PendingDeliveries(options.calls, options.log);
  /** The call's log as committed, with the deliveries still waiting on this node. */
  const logOf = async (callID: string) => {
    const log = await options.calls.logOf(callID);
    const waiting = deliveries.of(callID);
    if (waiting.length === 0) return log;
    const stored = [...log.deliveries, ...waiting].map(
      (r): StoredDelivery => [r.userID, r.deviceID, r.step, r.deadline, r.at],
    );
    return { facts: log.facts, deliveries: deliveriesOf(callID, stored) };
  };
  const webhookService = new WebhookService({
    store: webhookStore,
    clock,
    ...(options.nodeID ? { nodeID: options.nodeID } : {}),
    ...(stores.shared ? { pollMs: WEBHOOK_POLL_MS } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.webhookRetryDelaysMs ? { retryDelaysMs: options.webhookRetryDelaysMs } : {}),
    ...(options.webhookMaxPerSecond ? { maxPerSecond: options.webhookMaxPerSecond } : {}),
  });

  const providers: PushProvider[] = [];
  let vapidPublicKey: string | undefined;
  const push = options.push ?? {};
  if (push.webPush) {
    if (!options.vapidKeys && !options.dataDir) {
      throw new Error("Web Push needs VAPID keys or a dataDir to keep them in");
    }
    const keys = options.vapidKeys ?? loadOrCreateVapidKeys(options.dataDir as string);
    vapidPublicKey = keys.publicKey;
    providers.push(new WebPushProvider({ keys, subject: push.webPush.subject, clock }));
  }
  if (push.fcm) providers.push(new FcmProvider({ clock, ...push.fcm }));
  if (push.apns) providers.push(new ApnsProvider({ clock, ...push.apns }));
  if (push.http) providers.push(new HttpPushProvider({ clock, ...push.http }));

  const dispatcher = new PushDispatcher({
    providers,
    registrations: pushRegistrations,
    clock,
    ...(options.log ? { log: options.log } : {}),
    ...(stores.shared ? { orphanAfterMs: PUSH_ORPHAN_AFTER_MS } : {}),
    ...(options.onPushOverflow ? { onOverflow: options.onPushOverflow } : {}),
    // A push that finally failed is news for the app backend.
    onOutcome: ({ send, result, final }) => {
      if (result.ok || !final) return;
      void webhookService
        .publish(
          `push:${send.id}`,
          "push_failed",
          {
            callID: send.callID,
            userID: send.userID,
            deviceID: send.deviceID,
            registrationID: send.registrationID,
            provider: send.provider,
            push: send.kind,
            httpStatus: result.status,
            reason: result.reason,
            expired: result.expired,
          },
          clock(),
        )
        .catch((error: unknown) =>
          options.log?.error({ err: error }, "push_failed webhook not queued"),
        );
    },
  });
  const pushHook = new PushHook({
    calls: options.calls,
    presence: options.presence,
    registrations: pushRegistrations,
    dispatcher,
    clock,
  });

  return {
    hooks: [webhookService, pushHook],
    keys,
    pushRegistrations,
    webhooks: { store: webhookStore, service: webhookService },
    deliveries,
    dispatcher,
    health: stores.health,
    vapidPublicKey,
    api: {
      presence: options.presence,
      keys,
      pushRegistrations,
      timeline: async (callID) => timelineEntries((await logOf(callID)).facts),
      deliveries: async (callID) => (await logOf(callID)).deliveries,
      webhooks: { store: webhookStore, service: webhookService },
      ...(vapidPublicKey ? { vapidPublicKey } : {}),
      clock,
    },
    async records(callID) {
      const [log, pushes] = await Promise.all([logOf(callID), pushRegistrations.sendsOf(callID)]);
      return { facts: timelineEntries(log.facts), deliveries: log.deliveries, pushes };
    },
    async start() {
      webhookService.start();
      await dispatcher.resume();
    },
    async purgeBefore(time) {
      // Timelines go with their calls (the call store's purge).
      const counts = await Promise.all([
        pushRegistrations.purgeSendsBefore(time),
        webhookStore.purgeBefore(time),
      ]);
      return counts.reduce((sum, count) => sum + count, 0);
    },
    async close() {
      // The dispatcher first: its last outcomes may publish `push_failed` webhooks.
      await dispatcher.close();
      await webhookService.stop();
      await deliveries.close();
      await stores.close();
    },
  };
}
