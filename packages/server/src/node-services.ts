// Which store, stream broker, presence, rate limits and timer source a node builds from its
// options: SQLite and in-process services for one node; PostgreSQL (`store: postgres://…`) and
// Redis (`redis: redis://…`) for a cluster.
import type { Logger } from "pino";
import {
  type IntegrationStores,
  postgresIntegrationStores,
  sqliteIntegrationStores,
} from "./integrations/integration-stores.js";
import type { Presence } from "./presence/presence.js";
import { RedisPresence } from "./presence/redis-presence.js";
import type { RateLimitSettings } from "./rate-limits/rate-limits.js";
import { RedisRateLimits } from "./rate-limits/redis-rate-limits.js";
import type { CallStore } from "./store/call-store.js";
import { PostgresCallStore } from "./store/postgres-call-store.js";
import { SqliteCallStore } from "./store/sqlite-call-store.js";
import { RedisStreamBroker } from "./streams/redis-stream-broker.js";
import type { StreamBroker } from "./streams/stream-broker.js";
import { LocalTimerSource } from "./timers/local-timer-source.js";
import { PostgresTimerSource } from "./timers/postgres-timer-source.js";
import type { TimerSource } from "./timers/timer-source.js";

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

/** Splits Beckon's own `?schema=` / `?prefix=` off a URL, leaving what the client understands. */
function takeParam(location: string, name: string): { url: string; value: string | undefined } {
  const url = new URL(location);
  const value = url.searchParams.get(name) ?? undefined;
  url.searchParams.delete(name);
  return { url: url.toString(), value };
}

/** `postgres://…[?schema=name]`, or a SQLite path / ':memory:'. */
export async function openStore(location: string): Promise<CallStore> {
  if (!isPostgresUrl(location)) return new SqliteCallStore(location);
  const { url, value: schema } = takeParam(location, "schema");
  return PostgresCallStore.open({ connectionString: url, ...(schema ? { schema } : {}) });
}

export interface RedisSettings {
  /** `redis://…[?prefix=name]`; the prefix (default "beckon:") keeps deployments apart. */
  url: string;
  nodeID: string;
  resumeWindowMs: number;
  heartbeatIntervalMs: number;
  clock: () => number;
}

export function redisTarget(location: string): { url: string; prefix?: string } {
  if (!/^rediss?:\/\//.test(location))
    throw new Error(`createServer: \`redis\` must be a redis:// or rediss:// URL, not ${location}`);
  const { url, value: prefix } = takeParam(location, "prefix");
  return prefix ? { url, prefix } : { url };
}

export async function openRedisBroker(redis: RedisSettings): Promise<StreamBroker> {
  return RedisStreamBroker.open({
    ...redisTarget(redis.url),
    retentionMs: redis.resumeWindowMs,
    clock: redis.clock,
  });
}

export async function openRedisPresence(redis: RedisSettings): Promise<Presence> {
  return RedisPresence.open({
    ...redisTarget(redis.url),
    // A session outlives a few missed renewals, not a dead node by much.
    leaseMs: Math.max(3 * redis.heartbeatIntervalMs, 3_000),
    nodeID: redis.nodeID,
  });
}

export async function openRedisRateLimits(
  redis: RedisSettings,
  limits: RateLimitSettings,
  timeoutMs: number,
  onHealth: (healthy: boolean, error?: Error) => void,
): Promise<RedisRateLimits> {
  return RedisRateLimits.open({
    ...redisTarget(redis.url),
    limits,
    timeoutMs,
    clock: redis.clock,
    onHealth,
  });
}

/** The location with any password masked, for logs. */
export function redactUrl(location: string): string {
  if (!/^[a-z]+:\/\//.test(location)) return location;
  const url = new URL(location);
  if (url.password) url.password = "***";
  return url.toString();
}

export function timerSourceFor(
  store: CallStore,
  nodeID: string,
  clock: () => number,
  log: Logger,
): TimerSource {
  if (store instanceof PostgresCallStore) {
    return new PostgresTimerSource(store, {
      nodeID,
      clock,
      onError: (error) => log.warn({ err: error }, "timer claim or handler failed; retried later"),
    });
  }
  return new LocalTimerSource(store, clock);
}

/**
 * The integrations' stores for a node on `store`: PostgreSQL's pool when the calls are there,
 * else SQLite at `location` (the call store's file), or in memory when that is no file.
 */
export function integrationStoresFor(store: CallStore, location: string): IntegrationStores {
  if (store instanceof PostgresCallStore) return postgresIntegrationStores(store.pool);
  return sqliteIntegrationStores(isPostgresUrl(location) ? ":memory:" : location);
}
