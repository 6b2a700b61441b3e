// The integrations' storage as one set: API keys, push registrations and sends, webhook
// endpoints and deliveries (a call's timeline is the call store's). SQLite on one node (the call store's file, or memory);
// PostgreSQL beside the call tables in a cluster, so every node sees the same keys,
// registrations and queues.
import type pg from "pg";
import { type ApiKeyStore, PostgresApiKeyStore, SqliteApiKeyStore } from "../api/api-key-store.js";
import {
  type IntegrationHealth,
  PostgresIntegrationHealth,
  SqliteIntegrationHealth,
} from "../console/integration-health.js";
import { PostgresPushRegistrationStore } from "../push/postgres-push-registration-store.js";
import {
  type PushRegistrationStore,
  SqlitePushRegistrationStore,
} from "../push/push-registration-store.js";
import { checkpointInBackground } from "../sqlite/checkpointer.js";
import { openSqlite } from "../sqlite/module-schema.js";
import { PostgresWebhookStore } from "../webhooks/postgres-webhook-store.js";
import { SqliteWebhookStore, type WebhookStore } from "../webhooks/webhook-store.js";

export interface IntegrationStores {
  keys: ApiKeyStore;
  pushRegistrations: PushRegistrationStore;
  webhooks: WebhookStore;
  /** Webhook endpoints' and push providers' health, read from the tables above. */
  health: IntegrationHealth;
  /**
   * Other nodes use the same stores: queued work is then looked for now and then (not only
   * when this node queued it), and a push queued long ago is a dead node's to take over.
   */
  shared: boolean;
  close(): Promise<void>;
}

/** The stores in a SQLite file (or ':memory:'); the call store's file is fine. */
export function sqliteIntegrationStores(path: string): IntegrationStores {
  const db = openSqlite(path);
  const releaseCheckpoints = checkpointInBackground(db, path);
  const pushRegistrations = new SqlitePushRegistrationStore(db);
  const webhooks = new SqliteWebhookStore(db);
  return {
    keys: new SqliteApiKeyStore(db),
    pushRegistrations,
    webhooks,
    // After the push and webhook stores: it reads (and indexes) their tables.
    health: new SqliteIntegrationHealth(db),
    shared: false,
    async close() {
      await releaseCheckpoints();
      db.close();
    },
  };
}

/**
 * The stores in PostgreSQL, through `pool`, whose search path is the schema the call store's
 * migrations made the tables in. The pool stays its owner's to close.
 * @internal
 */
export function postgresIntegrationStores(pool: pg.Pool): IntegrationStores {
  return {
    keys: new PostgresApiKeyStore(pool),
    pushRegistrations: new PostgresPushRegistrationStore(pool),
    webhooks: new PostgresWebhookStore(pool),
    health: new PostgresIntegrationHealth(pool),
    shared: true,
    async close() {},
  };
}
