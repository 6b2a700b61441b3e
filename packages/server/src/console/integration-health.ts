// How the integrations are doing, for operators: each webhook endpoint's state (live or paused,
// its queue, its last failure) and the pushes of the last hour by provider and outcome. A read
// model over the webhook and push tables (their stores own them); SQLite and PostgreSQL here.
import type Database from "better-sqlite3";
import type pg from "pg";
import { migrateModule } from "../sqlite/module-schema.js";

export interface EndpointHealth {
  endpointID: string;
  /** Until when the endpoint is paused after failures (epoch ms); 0 or past: live. */
  pausedUntil: number;
  /** Deliveries waiting to be sent (pending). */
  queueDepth: number;
  /** Delivered and dead-lettered deliveries created since `since`. */
  delivered: number;
  dead: number;
  /** The latest failed attempt, if any. */
  lastError: { at: number; httpStatus: number; error: string } | null;
}

export interface PushCounts {
  provider: string;
  sent: number;
  failed: number;
  expired: number;
  queued: number;
}

export interface IntegrationHealth {
  endpoints(since: number): Promise<EndpointHealth[]>;
  /** Pushes queued since `since`, by provider. */
  pushes(since: number): Promise<PushCounts[]>;
}

interface EndpointRow {
  id: string;
  paused_until: number;
  queued: number;
  delivered: number;
  dead: number;
}

interface ErrorRow {
  at: number;
  http_status: number;
  error: string;
}

interface PushRow {
  provider: string;
  status: string;
  n: number;
}

/** A failed attempt: no answer, or an answer that is not a 2xx. */
const FAILED_ATTEMPT = "(a.http_status < 200 OR a.http_status >= 300)";

function pushCounts(rows: readonly PushRow[]): PushCounts[] {
  const byProvider = new Map<string, PushCounts>();
  for (const row of rows) {
    let counts = byProvider.get(row.provider);
    if (!counts) {
      counts = { provider: row.provider, sent: 0, failed: 0, expired: 0, queued: 0 };
      byProvider.set(row.provider, counts);
    }
    if (row.status === "sent" || row.status === "failed" || row.status === "expired") {
      counts[row.status] += Number(row.n);
    } else counts.queued += Number(row.n);
  }
  return [...byProvider.values()];
}

const sqliteMigrations = [
  // The last hour's pushes are found by time, not by scanning the whole retention.
  "CREATE INDEX IF NOT EXISTS push_sends_queued_at ON push_sends(queued_at);",
];

export class SqliteIntegrationHealth implements IntegrationHealth {
  private readonly statements;

  /** `db` already holds the webhook and push tables (their stores migrated it first). */
  constructor(db: Database.Database) {
    migrateModule(db, "integration-health", sqliteMigrations);
    this.statements = {
      endpoints: db.prepare<[number, number], EndpointRow>(
        `SELECT e.id, e.paused_until,
           (SELECT count(*) FROM webhook_deliveries d
             WHERE d.endpoint_id = e.id AND d.status = 'pending') AS queued,
           (SELECT count(*) FROM webhook_deliveries d
             WHERE d.endpoint_id = e.id AND d.status = 'delivered' AND d.created_at >= ?) AS delivered,
           (SELECT count(*) FROM webhook_deliveries d
             WHERE d.endpoint_id = e.id AND d.status = 'dead' AND d.created_at >= ?) AS dead
         FROM webhook_endpoints e ORDER BY e.created_at, e.id`,
      ),
      lastError: db.prepare<[string], ErrorRow>(
        `SELECT a.at, a.http_status, a.error FROM webhook_deliveries d
           JOIN webhook_attempts a ON a.delivery_id = d.id
         WHERE d.endpoint_id = ? AND ${FAILED_ATTEMPT}
         ORDER BY a.at DESC LIMIT 1`,
      ),
      pushes: db.prepare<[number], PushRow>(
        `SELECT provider, status, count(*) AS n FROM push_sends WHERE queued_at >= ?
         GROUP BY provider, status ORDER BY provider`,
      ),
    };
  }

  async endpoints(since: number): Promise<EndpointHealth[]> {
    return this.statements.endpoints.all(since, since).map((row) => {
      const error = this.statements.lastError.get(row.id);
      return {
        endpointID: row.id,
        pausedUntil: row.paused_until,
        queueDepth: row.queued,
        delivered: row.delivered,
        dead: row.dead,
        lastError: error
          ? { at: error.at, httpStatus: error.http_status, error: error.error }
          : null,
      };
    });
  }

  async pushes(since: number): Promise<PushCounts[]> {
    return pushCounts(this.statements.pushes.all(since));
  }
}

/** The same over PostgreSQL (the index is migration 0008). */
export class PostgresIntegrationHealth implements IntegrationHealth {
  constructor(private readonly pool: pg.Pool) {}

  async endpoints(since: number): Promise<EndpointHealth[]> {
    const result = await this.pool.query<EndpointRow & { error_at: string | null } & ErrorRow>({
      name: "beckon_console_endpoints",
      text: `SELECT e.id, e.paused_until::float8 AS paused_until,
               (SELECT count(*) FROM webhook_deliveries d
                 WHERE d.endpoint_id = e.id AND d.status = 'pending')::int AS queued,
               (SELECT count(*) FROM webhook_deliveries d
                 WHERE d.endpoint_id = e.id AND d.status = 'delivered' AND d.created_at >= $1)::int
                 AS delivered,
               (SELECT count(*) FROM webhook_deliveries d
                 WHERE d.endpoint_id = e.id AND d.status = 'dead' AND d.created_at >= $1)::int AS dead,
               f.at::float8 AS error_at, f.http_status, f.error
             FROM webhook_endpoints e
             LEFT JOIN LATERAL (
               SELECT a.at, a.http_status, a.error FROM webhook_deliveries d
                 JOIN webhook_attempts a ON a.delivery_id = d.id
               WHERE d.endpoint_id = e.id AND ${FAILED_ATTEMPT}
               ORDER BY a.at DESC LIMIT 1) f ON true
             ORDER BY e.created_at, e.id`,
      values: [since],
    });
    return result.rows.map((row) => ({
      endpointID: row.id,
      pausedUntil: Number(row.paused_until),
      queueDepth: row.queued,
      delivered: row.delivered,
      dead: row.dead,
      lastError:
        row.error_at === null
          ? null
          : { at: Number(row.error_at), httpStatus: row.http_status, error: row.error },
    }));
  }

  async pushes(since: number): Promise<PushCounts[]> {
    const result = await this.pool.query<PushRow>({
      name: "beckon_console_pushes",
      text: `SELECT provider, status, count(*)::int AS n FROM push_sends WHERE queued_at >= $1
             GROUP BY provider, status ORDER BY provider`,
      values: [since],
    });
    return pushCounts(result.rows);
  }
}
