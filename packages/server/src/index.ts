// @beckon/server: run a Beckon node in-process, and mint development tokens.
export { type SignTokenOptions, signToken } from "./auth-tokens.js";
export {
  type BeckonNode,
  type BeckonServer,
  buildNode,
  type CreateServerOptions,
  createServer,
  type NodeServices,
} from "./create-server.js";
export type { FactMeta, Hook } from "./hooks/hook.js";
export { MemoryPresence } from "./presence/memory-presence.js";
export type { DeviceRef, DeviceState, Presence } from "./presence/presence.js";
export { RedisPresence, type RedisPresenceOptions } from "./presence/redis-presence.js";
export { MemoryRateLimits } from "./rate-limits/memory-rate-limits.js";
export type {
  LimitName,
  RateLimit,
  RateLimitSettings,
  RateLimits,
} from "./rate-limits/rate-limits.js";
export { RedisRateLimits, type RedisRateLimitsOptions } from "./rate-limits/redis-rate-limits.js";
export type { ServerOptions } from "./server-options.js";
export type {
  CallCommit,
  CallStore,
  CommitResult,
  OutboxEntry,
  StoredTimer,
} from "./store/call-store.js";
export { PostgresCallStore, type PostgresStoreOptions } from "./store/postgres-call-store.js";
export { SqliteCallStore } from "./store/sqlite-call-store.js";
export { MemoryStreamBroker } from "./streams/memory-stream-broker.js";
export { type RedisBrokerOptions, RedisStreamBroker } from "./streams/redis-stream-broker.js";
export type { StreamBroker, StreamEntry, StreamPosition } from "./streams/stream-broker.js";
export { LocalTimerSource } from "./timers/local-timer-source.js";
export { type PostgresTimerOptions, PostgresTimerSource } from "./timers/postgres-timer-source.js";
export type { TimerSource } from "./timers/timer-source.js";
