// Webhook endpoints and their delivery queue in PostgreSQL (cluster mode): an endpoint added
// through one node gets the events every node relays, and each attempt is made by exactly one
// node (claimed with `FOR UPDATE SKIP LOCKED` and a lease that a dead node's claim runs out of).
import { randomBytes } from "node:crypto";
import type pg from "pg";
import type { WebhookEventType, WebhookPayload } from "./webhook-events.js";
import {
  type DeliveryQuery,
  type DeliveryRow,
  deliveryOf,
  queuedDelivery,
  type WebhookAttempt,
  type WebhookDelivery,
  type WebhookDeliveryStatus,
  type WebhookEndpoint,
  type WebhookStore,
} from "./webhook-store.js";

interface EndpointRow {
  id: string;
  url: string;
  secret: string;
  events: WebhookEventType[] | null;
  description: string;
  created_at: number;
}

interface AttemptRow {
  delivery_id: string;
  attempt: number;
  at: number;
  http_status: number;
  error: string;
  duration_ms: number;
}

function endpointOf(row: EndpointRow): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    secret: row.secret,
    events: row.events,
    description: row.description,
    createdAt: row.created_at,
  };
}

const sql = {
  addEndpoint: {
    name: "beckon_webhooks_add_endpoint",
    text: `INSERT INTO webhook_endpoints (id, url, secret, events, description, created_at)
           VALUES ($1, $2, $3, $4::jsonb, $5, $6)`,
  },
  listEndpoints: {
    name: "beckon_webhooks_list_endpoints",
    text: "SELECT * FROM webhook_endpoints ORDER BY created_at, id",
  },
  getEndpoint: {
    name: "beckon_webhooks_get_endpoint",
    text: "SELECT * FROM webhook_endpoints WHERE id = $1",
  },
  removeEndpoint: {
    name: "beckon_webhooks_remove_endpoint",
    text: "DELETE FROM webhook_endpoints WHERE id = $1",
  },
  enqueueMany: {
    name: "beckon_webhooks_enqueue_many",
    // Endpoints are read in the statement itself, not cached: another node may have added or
    // removed one a moment ago. The id is made as a single node's is (see ids.ts): the time
    // first, so the primary key's index grows at its right edge, then about 90 random bits.
    text: `INSERT INTO webhook_deliveries
             (id, endpoint_id, dedupe_key, type, body, status, next_attempt_at, created_at)
           SELECT 'msg_' || lpad(to_hex($4::bigint), 12, '0')
                    || substr(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), 1, 16),
                  e.id, ev.dedupe_key, ev.type, ev.body, 'pending', $4, $4
           FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
                  AS ev(dedupe_key, type, body, n)
           JOIN webhook_endpoints e
             ON e.events IS NULL OR e.events @> jsonb_build_array(ev.type)
           ORDER BY ev.n, e.created_at, e.id
           ON CONFLICT (endpoint_id, dedupe_key) DO NOTHING
           RETURNING id, endpoint_id, dedupe_key`,
  },
  nextDue: {
    name: "beckon_webhooks_next_due",
    // Per endpoint (there are few), so a paused endpoint's long queue is not scanned.
    text: `SELECT min(greatest(e.paused_until, d.due)) AS at
           FROM webhook_endpoints e
           CROSS JOIN LATERAL (
             SELECT next_attempt_at AS due FROM webhook_deliveries
             WHERE endpoint_id = e.id AND status = 'pending'
             ORDER BY next_attempt_at LIMIT 1
           ) d`,
  },
  pauseEndpoint: {
    name: "beckon_webhooks_pause_endpoint",
    text: "UPDATE webhook_endpoints SET paused_until = greatest(paused_until, $2) WHERE id = $1",
  },
  claimDue: {
    name: "beckon_webhooks_claim_due",
    // SKIP LOCKED: nodes looking at the same moment split the due deliveries instead of
    // queueing on them; the moved due time is the lease.
    // Endpoint by endpoint through their own index, so a paused endpoint's long queue is not
    // walked past on every claim.
    text: `WITH due AS (
             SELECT d.id FROM webhook_endpoints e
             CROSS JOIN LATERAL (
               SELECT id, next_attempt_at FROM webhook_deliveries
               WHERE endpoint_id = e.id AND status = 'pending' AND next_attempt_at <= $1
               ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED
             ) d
             WHERE e.paused_until <= $1
             ORDER BY d.next_attempt_at LIMIT $2
           )
           UPDATE webhook_deliveries d SET next_attempt_at = $3, lease_owner = $4
           FROM due WHERE d.id = due.id
           RETURNING d.*`,
  },
  recordAttempt: {
    name: "beckon_webhooks_record_attempt",
    text: `WITH attempt AS (
             INSERT INTO webhook_attempts (delivery_id, attempt, at, http_status, error, duration_ms)
             SELECT id, $2, $3, $4, $5, $6 FROM webhook_deliveries WHERE id = $1
           )
           UPDATE webhook_deliveries
           SET status = $7, attempts = $2, next_attempt_at = $8, last_status = $4,
               last_error = $5, done_at = $9
           WHERE id = $1`,
  },
  getDelivery: {
    name: "beckon_webhooks_get_delivery",
    text: "SELECT * FROM webhook_deliveries WHERE id = $1",
  },
  attemptsOf: {
    name: "beckon_webhooks_attempts_of",
    text: "SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY at, id",
  },
  listDeliveries: {
    name: "beckon_webhooks_list_deliveries",
    text: `SELECT * FROM webhook_deliveries
           WHERE ($1::text IS NULL OR status = $1)
             AND ($2::text IS NULL OR endpoint_id = $2)
             AND ($3::bigint IS NULL OR created_at < $3 OR (created_at = $3 AND id < $4))
           ORDER BY created_at DESC, id DESC LIMIT $5`,
  },
  replay: {
    name: "beckon_webhooks_replay",
    text: `UPDATE webhook_deliveries
           SET status = 'pending', attempts = 0, next_attempt_at = $1, done_at = 0
           WHERE id = $2 AND status != 'pending'`,
  },
  purge: {
    name: "beckon_webhooks_purge",
    text: "DELETE FROM webhook_deliveries WHERE status != 'pending' AND done_at < $1",
  },
} as const;

export class PostgresWebhookStore implements WebhookStore {
  /** `pool` must have the schema holding the integrations' tables on its search path. */
  constructor(private readonly pool: pg.Pool) {}

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
    await this.pool.query({
      ...sql.addEndpoint,
      values: [
        endpoint.id,
        endpoint.url,
        endpoint.secret,
        endpoint.events === null ? null : JSON.stringify(endpoint.events),
        endpoint.description,
        now,
      ],
    });
    return endpoint;
  }

  async listEndpoints(): Promise<WebhookEndpoint[]> {
    const result = await this.pool.query<EndpointRow>(sql.listEndpoints);
    return result.rows.map(endpointOf);
  }

  async getEndpoint(id: string): Promise<WebhookEndpoint | undefined> {
    const result = await this.pool.query<EndpointRow>({ ...sql.getEndpoint, values: [id] });
    const row = result.rows[0];
    return row && endpointOf(row);
  }

  async removeEndpoint(id: string): Promise<boolean> {
    const result = await this.pool.query({ ...sql.removeEndpoint, values: [id] });
    return (result.rowCount ?? 0) > 0;
  }

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
    if (events.length === 0) return [];
    const bodies = events.map((event) => JSON.stringify(event.payload));
    const result = await this.pool.query<{ id: string; endpoint_id: string; dedupe_key: string }>({
      ...sql.enqueueMany,
      values: [
        events.map((event) => event.dedupeKey),
        events.map((event) => event.payload.type),
        bodies,
        now,
      ],
    });
    // The rows come back without their bodies, which this node has at hand.
    const byKey = new Map(events.map((event, index) => [event.dedupeKey, index]));
    return result.rows.map((row) => {
      const index = byKey.get(row.dedupe_key) ?? 0;
      const type = events[index]?.payload.type as WebhookEventType;
      return queuedDelivery(row.id, row.endpoint_id, type, bodies[index] as string, now);
    });
  }

  async pauseEndpoint(endpointID: string, until: number): Promise<void> {
    await this.pool.query({ ...sql.pauseEndpoint, values: [endpointID, until] });
  }

  async nextDueAt(): Promise<number | undefined> {
    const result = await this.pool.query<{ at: number }>(sql.nextDue);
    return result.rows[0]?.at ?? undefined;
  }

  async claimDue(
    now: number,
    limit: number,
    leaseUntil: number,
    owner: string,
  ): Promise<WebhookDelivery[]> {
    const result = await this.pool.query<DeliveryRow>({
      ...sql.claimDue,
      values: [now, limit, leaseUntil, owner],
    });
    return result.rows.map(deliveryOf).sort((a, b) => a.createdAt - b.createdAt);
  }

  async recordAttempt(
    attempt: WebhookAttempt,
    next: { status: WebhookDeliveryStatus; nextAttemptAt: number },
  ): Promise<void> {
    const error = attempt.error.slice(0, 500);
    await this.pool.query({
      ...sql.recordAttempt,
      values: [
        attempt.deliveryID,
        attempt.attempt,
        attempt.at,
        attempt.httpStatus,
        error,
        attempt.durationMs,
        next.status,
        next.nextAttemptAt,
        next.status === "pending" ? 0 : attempt.at,
      ],
    });
  }

  async getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    const result = await this.pool.query<DeliveryRow>({ ...sql.getDelivery, values: [id] });
    const row = result.rows[0];
    return row && deliveryOf(row);
  }

  async attemptsOf(id: string): Promise<WebhookAttempt[]> {
    const result = await this.pool.query<AttemptRow>({ ...sql.attemptsOf, values: [id] });
    return result.rows.map((row) => ({
      deliveryID: row.delivery_id,
      attempt: row.attempt,
      at: row.at,
      httpStatus: row.http_status,
      error: row.error,
      durationMs: row.duration_ms,
    }));
  }

  async listDeliveries(query: DeliveryQuery): Promise<WebhookDelivery[]> {
    const result = await this.pool.query<DeliveryRow>({
      ...sql.listDeliveries,
      values: [
        query.status ?? null,
        query.endpointID ?? null,
        query.before?.createdAt ?? null,
        query.before?.id ?? null,
        query.limit,
      ],
    });
    return result.rows.map(deliveryOf);
  }

  async replay(id: string, now: number): Promise<boolean> {
    const result = await this.pool.query({ ...sql.replay, values: [now, id] });
    return (result.rowCount ?? 0) > 0;
  }

  async purgeBefore(time: number): Promise<number> {
    const result = await this.pool.query({ ...sql.purge, values: [time] });
    return result.rowCount ?? 0;
  }
}
