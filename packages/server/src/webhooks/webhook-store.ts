// The durable side of webhooks: endpoints with their event filters, a delivery queue that
// survives restarts, every attempt made, and what ended in the dead-letter list.
import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";
import { timeOrderedID } from "../ids.js";
import { migrateModule } from "../sqlite/module-schema.js";
import type { WebhookEventType, WebhookPayload } from "./webhook-events.js";

export interface WebhookEndpoint {
  id: string;
  url: string;
  /** Standard Webhooks secret (`whsec_` + base64) the endpoint verifies signatures with. */
  secret: string;
  /** The event types sent there; null for all of them. */
  events: WebhookEventType[] | null;
  description: string;
  createdAt: number;
}

export type WebhookDeliveryStatus = "pending" | "delivered" | "dead";

export interface WebhookDelivery {
  /** Also the `webhook-id` header: the same on every attempt, the receiver's idempotency key. */
  id: string;
  endpointID: string;
  type: WebhookEventType;
  /** The exact JSON body that is signed and sent. */
  body: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** When the next attempt is due (epoch ms); 0 once delivered or dead. */
  nextAttemptAt: number;
  createdAt: number;
  /** HTTP status of the last attempt (0: none yet, or no answer). */
  lastStatus: number;
  lastError: string;
  doneAt: number;
}

export interface WebhookAttempt {
  deliveryID: string;
  /** 1 for the first try (counted again from 1 after a replay). */
  attempt: number;
  at: number;
  httpStatus: number;
  error: string;
  durationMs: number;
}

export interface DeliveryQuery {
  status?: WebhookDeliveryStatus;
  endpointID?: string;
  /** Newest first; pass the last page's oldest `createdAt`/`id` pair to go on. */
  limit: number;
  before?: { createdAt: number; id: string };
}

export interface WebhookStore {
  addEndpoint(
    input: Omit<WebhookEndpoint, "id" | "secret" | "createdAt">,
    now: number,
  ): Promise<WebhookEndpoint>;
  listEndpoints(): Promise<WebhookEndpoint[]>;
  getEndpoint(id: string): Promise<WebhookEndpoint | undefined>;
  /** Removes the endpoint and its queued deliveries; false if unknown. */
  removeEndpoint(id: string): Promise<boolean>;
  /**
   * Queues `payload` for every endpoint whose filter takes its type, once per `dedupeKey` and
   * endpoint; returns the deliveries created now.
   */
  enqueue(dedupeKey: string, payload: WebhookPayload, now: number): Promise<WebhookDelivery[]>;
  /** `enqueue` for many events in one transaction (a relay round's facts). */
  enqueueMany(
    events: ReadonlyArray<{ dedupeKey: string; payload: WebhookPayload }>,
    now: number,
  ): Promise<WebhookDelivery[]>;
  /**
   * When the earliest pending delivery is due (not before its endpoint's pause ends); undefined
   * when none is pending.
   */
  nextDueAt(): Promise<number | undefined>;
  /**
   * The endpoint is failing: none of its deliveries is claimed before `until` (a later pause
   * already set stays). Its deliveries wait without using up their retries.
   */
  pauseEndpoint(endpointID: string, until: number): Promise<void>;
  /**
   * Takes up to `limit` pending deliveries due at `now`, oldest due first, for one attempt each
   * by `owner`: their due time moves to `leaseUntil`, so no other node (nor this one) takes them
   * again before the lease runs out, and a node that dies mid-attempt leaves them due after it.
   */
  claimDue(
    now: number,
    limit: number,
    leaseUntil: number,
    owner: string,
  ): Promise<WebhookDelivery[]>;
  /** Records one attempt and what follows it. */
  recordAttempt(
    attempt: WebhookAttempt,
    next: { status: WebhookDeliveryStatus; nextAttemptAt: number },
  ): Promise<void>;
  getDelivery(id: string): Promise<WebhookDelivery | undefined>;
  attemptsOf(id: string): Promise<WebhookAttempt[]>;
  listDeliveries(query: DeliveryQuery): Promise<WebhookDelivery[]>;
  /**
   * Queues a delivered or dead delivery again, due at `now`, with a fresh retry schedule and the
   * same `webhook-id`; false if unknown or still pending.
   */
  replay(id: string, now: number): Promise<boolean>;
  /** Forgets delivered and dead deliveries finished before `time`; returns how many. */
  purgeBefore(time: number): Promise<number>;
}

const migrations = [
  `CREATE TABLE webhook_endpoints (
     id TEXT PRIMARY KEY,
     url TEXT NOT NULL,
     secret TEXT NOT NULL,
     events TEXT,
     description TEXT NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE webhook_deliveries (
     id TEXT PRIMARY KEY,
     endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
     dedupe_key TEXT NOT NULL,
     type TEXT NOT NULL,
     body TEXT NOT NULL,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     last_status INTEGER NOT NULL DEFAULT 0,
     last_error TEXT NOT NULL DEFAULT '',
     done_at INTEGER NOT NULL DEFAULT 0,
     UNIQUE (endpoint_id, dedupe_key)
   );
   CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE status = 'pending';
   CREATE INDEX webhook_deliveries_listing ON webhook_deliveries(created_at, id);
   CREATE TABLE webhook_attempts (
     delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
     attempt INTEGER NOT NULL,
     at INTEGER NOT NULL,
     http_status INTEGER NOT NULL,
     error TEXT NOT NULL,
     duration_ms INTEGER NOT NULL
   );
   CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id);`,
  // Which node holds a delivery's current attempt (for operators; the lease is next_attempt_at).
  "ALTER TABLE webhook_deliveries ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';",
  // A failing endpoint is paused: its queue waits instead of costing an attempt per delivery.
  `ALTER TABLE webhook_endpoints ADD COLUMN paused_until INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries(endpoint_id, next_attempt_at)
     WHERE status = 'pending';`,
  // Deliveries are claimed endpoint by endpoint: the queue-wide index only cost every insert.
  "DROP INDEX webhook_deliveries_due;",
];

interface EndpointRow {
  id: string;
  url: string;
  secret: string;
  events: string | null;
  description: string;
  created_at: number;
}

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  type: string;
  body: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  last_status: number;
  last_error: string;
  done_at: number;
}

function endpointOf(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    secret: row.secret,
    events: row.events === null ? null : (JSON.parse(row.events) as WebhookEventType[]),
    description: row.description,
    createdAt: row.created_at,
  };
}

/** A delivery as queued just now: what an insert wrote, without reading it back. */
export function queuedDelivery(
  id: string,
  endpointID: string,
  type: WebhookEventType,
  body: string,
  now: number,
): WebhookDelivery {
  return {
    id,
    endpointID,
    type,
    body,
    status: "pending",
    attempts: 0,
    nextAttemptAt: now,
    createdAt: now,
    lastStatus: 0,
    lastError: "",
    doneAt: 0,
  };
}

export function deliveryOf(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    endpointID: row.endpoint_id,
    type: row.type as WebhookEventType,
    body: row.body,
    status: row.status as WebhookDeliveryStatus,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    lastStatus: row.last_status,
    lastError: row.last_error,
    doneAt: row.done_at,
  };
}

export class SqliteWebhookStore implements WebhookStore {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    migrateModule(db, "webhooks", migrations);
    this.statements = {
      addEndpoint: db.prepare<[string, string, string, string | null, string, number]>(
        `INSERT INTO webhook_endpoints (id, url, secret, events, description, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      listEndpoints: db.prepare<[], EndpointRow>(
        "SELECT * FROM webhook_endpoints ORDER BY created_at, id",
      ),
      getEndpoint: db.prepare<[string], EndpointRow>(
        "SELECT * FROM webhook_endpoints WHERE id = ?",
      ),
      removeEndpoint: db.prepare<[string]>("DELETE FROM webhook_endpoints WHERE id = ?"),
      insertDelivery: db.prepare<[string, string, string, string, string, number, number]>(
        `INSERT INTO webhook_deliveries (id, endpoint_id, dedupe_key, type, body, status, next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)
         ON CONFLICT (endpoint_id, dedupe_key) DO NOTHING`,
      ),
      // Endpoint by endpoint through their own index, so a paused endpoint's long queue is not
      // walked past on every claim.
      unpausedEndpoints: db.prepare<[number], { id: string }>(
        "SELECT id FROM webhook_endpoints WHERE paused_until <= ?",
      ),
      dueOf: db.prepare<[string, number, number], { id: string; next_attempt_at: number }>(
        `SELECT id, next_attempt_at FROM webhook_deliveries
         WHERE endpoint_id = ? AND status = 'pending' AND next_attempt_at <= ?
         ORDER BY next_attempt_at LIMIT ?`,
      ),
      lease: db.prepare<[number, string, string], DeliveryRow>(
        `UPDATE webhook_deliveries SET next_attempt_at = ?, lease_owner = ?
         WHERE id = ? RETURNING *`,
      ),
      // Per endpoint (there are few), so a paused endpoint's long queue is not scanned.
      nextDue: db.prepare<[], { at: number | null }>(
        `SELECT MIN(MAX(e.paused_until, (
           SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d
           WHERE d.endpoint_id = e.id AND d.status = 'pending'
         ))) AS at FROM webhook_endpoints e`,
      ),
      pauseEndpoint: db.prepare<[number, string]>(
        "UPDATE webhook_endpoints SET paused_until = MAX(paused_until, ?) WHERE id = ?",
      ),
      insertAttempt: db.prepare<[string, number, number, number, string, number]>(
        `INSERT INTO webhook_attempts (delivery_id, attempt, at, http_status, error, duration_ms)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      afterAttempt: db.prepare<[string, number, number, number, string, number, string]>(
        `UPDATE webhook_deliveries
         SET status = ?, attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?, done_at = ?
         WHERE id = ?`,
      ),
      getDelivery: db.prepare<[string], DeliveryRow>(
        "SELECT * FROM webhook_deliveries WHERE id = ?",
      ),
      attemptsOf: db.prepare<
        [string],
        {
          delivery_id: string;
          attempt: number;
          at: number;
          http_status: number;
          error: string;
          duration_ms: number;
        }
      >("SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY at, rowid"),
      purge: db.prepare<[number]>(
        "DELETE FROM webhook_deliveries WHERE status != 'pending' AND done_at < ?",
      ),
      replay: db.prepare<[number, string]>(
        `UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, done_at = 0
         WHERE id = ? AND status != 'pending'`,
      ),
    };
  }

  async addEndpoint(
    input: Omit<WebhookEndpoint, "id" | "secret" | "createdAt">,
    now: number,
  ): Promise<WebhookEndpoint> {
    const endpoint: WebhookEndpoint = {
      id: `ep_${randomBytes(12).toString("base64url")}`,
      secret: `whsec_${randomBytes(24).toString("base64")}`,
      createdAt: now,
      ...input,
    };
    this.endpoints = null;
    this.statements.addEndpoint.run(
      endpoint.id,
      endpoint.url,
      endpoint.secret,
      endpoint.events === null ? null : JSON.stringify(endpoint.events),
      endpoint.description,
      now,
    );
    return endpoint;
  }

  async listEndpoints(): Promise<WebhookEndpoint[]> {
    return this.statements.listEndpoints.all().map(endpointOf);
  }

  async getEndpoint(id: string): Promise<WebhookEndpoint | undefined> {
    const row = this.statements.getEndpoint.get(id);
    return row && endpointOf(row);
  }

  async removeEndpoint(id: string): Promise<boolean> {
    this.endpoints = null;
    return this.statements.removeEndpoint.run(id).changes > 0;
  }

  /**
   * The endpoints, read once and kept until one is added or removed (this store is the only
   * writer of its table): every fact is offered to them, and most nodes have none.
   */
  private endpoints: WebhookEndpoint[] | null = null;

  async enqueue(
    dedupeKey: string,
    payload: WebhookPayload,
    now: number,
  ): Promise<WebhookDelivery[]> {
    return this.enqueueMany([{ dedupeKey, payload }], now);
  }

  async enqueueMany(
    events: ReadonlyArray<{ dedupeKey: string; payload: WebhookPayload }>,
    now: number,
  ): Promise<WebhookDelivery[]> {
    this.endpoints ??= this.statements.listEndpoints.all().map(endpointOf);
    const all = this.endpoints;
    if (all.length === 0) return [];
    return this.db.transaction(() => {
      const created: WebhookDelivery[] = [];
      for (const { dedupeKey, payload } of events) {
        let body: string | undefined;
        for (const endpoint of all) {
          if (endpoint.events !== null && !endpoint.events.includes(payload.type)) continue;
          body ??= JSON.stringify(payload);
          const id = timeOrderedID("msg_", 12, now);
          const inserted = this.statements.insertDelivery.run(
            id,
            endpoint.id,
            dedupeKey,
            payload.type,
            body,
            now,
            now,
          );
          if (inserted.changes === 0) continue;
          created.push(queuedDelivery(id, endpoint.id, payload.type, body, now));
        }
      }
      return created;
    })();
  }

  async claimDue(
    now: number,
    limit: number,
    leaseUntil: number,
    owner: string,
  ): Promise<WebhookDelivery[]> {
    return this.db.transaction(() => {
      const due = this.statements.unpausedEndpoints
        .all(now)
        .flatMap(({ id }) => this.statements.dueOf.all(id, now, limit))
        .sort((a, b) => a.next_attempt_at - b.next_attempt_at)
        .slice(0, limit);
      // Oldest due first; among equals, the order they were queued in.
      return due
        .map(({ id }) => this.statements.lease.get(leaseUntil, owner, id))
        .filter((row): row is DeliveryRow => row !== undefined)
        .map(deliveryOf)
        .sort((a, b) => a.createdAt - b.createdAt);
    })();
  }

  async nextDueAt(): Promise<number | undefined> {
    return this.statements.nextDue.get()?.at ?? undefined;
  }

  async pauseEndpoint(endpointID: string, until: number): Promise<void> {
    this.statements.pauseEndpoint.run(until, endpointID);
  }

  async recordAttempt(
    attempt: WebhookAttempt,
    next: { status: WebhookDeliveryStatus; nextAttemptAt: number },
  ): Promise<void> {
    this.db.transaction(() => {
      this.statements.insertAttempt.run(
        attempt.deliveryID,
        attempt.attempt,
        attempt.at,
        attempt.httpStatus,
        attempt.error.slice(0, 500),
        attempt.durationMs,
      );
      this.statements.afterAttempt.run(
        next.status,
        attempt.attempt,
        next.nextAttemptAt,
        attempt.httpStatus,
        attempt.error.slice(0, 500),
        next.status === "pending" ? 0 : attempt.at,
        attempt.deliveryID,
      );
    })();
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const row = this.statements.getDelivery.get(id);
    return row && deliveryOf(row);
  }

  async attemptsOf(id: string): Promise<WebhookAttempt[]> {
    return this.statements.attemptsOf.all(id).map((row) => ({
      deliveryID: row.delivery_id,
      attempt: row.attempt,
      at: row.at,
      httpStatus: row.http_status,
      error: row.error,
      durationMs: row.duration_ms,
    }));
  }

  async listDeliveries(query: DeliveryQuery): Promise<WebhookDelivery[]> {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (query.status) {
      where.push("status = ?");
      params.push(query.status);
    }
    if (query.endpointID) {
      where.push("endpoint_id = ?");
      params.push(query.endpointID);
    }
    if (query.before) {
      where.push("(created_at < ? OR (created_at = ? AND id < ?))");
      params.push(query.before.createdAt, query.before.createdAt, query.before.id);
    }
    const sql = `SELECT * FROM webhook_deliveries ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY created_at DESC, id DESC LIMIT ?`;
    return this.db
      .prepare<Array<string | number>, DeliveryRow>(sql)
      .all(...params, query.limit)
      .map(deliveryOf);
  }

  async replay(id: string, now: number): Promise<boolean> {
    return this.statements.replay.run(now, id).changes > 0;
  }

  async purgeBefore(time: number): Promise<number> {
    return this.statements.purge.run(time).changes;
  }
}
