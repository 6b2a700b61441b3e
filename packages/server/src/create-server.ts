// Builds a Beckon node from its services and starts listening; `close()` stops all of it.
// Services (store, stream broker, presence, rate limits, timers, hooks, clock, logger) may be
// passed in as instances: several nodes in one process can then share them, as separate
// processes share PostgreSQL and Redis. What is not passed is made for the single-node setup.
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { Admission } from "./admission/admission.js";
import { API_PREFIX } from "./api/api-dependencies.js";
import { beckonApi } from "./api/api-plugin.js";
import { CallService } from "./call-service.js";
import { ConsoleFeed } from "./console/console-feed.js";
import { ConsoleSessions } from "./console/console-sessions.js";
import { LiveStats } from "./console/live-stats.js";
import { MemoryStatsBoard, RedisStatsBoard, type StatsBoard } from "./console/stats-board.js";
import { Gateway } from "./gateway/gateway.js";
import type { Hook } from "./hooks/hook.js";
import { observabilityHook } from "./hooks/observability-hook.js";
import { OutboxRelay } from "./hooks/outbox-relay.js";
import { buildHttpApp } from "./http/http-app.js";
import { checkReadiness } from "./http/readiness.js";
import { createIntegrations } from "./integrations/create-integrations.js";
import { createLogger } from "./logger.js";
import { BeckonMetrics } from "./metrics.js";
import {
  integrationStoresFor,
  isPostgresUrl,
  openRedisBroker,
  openRedisPresence,
  openRedisRateLimits,
  openStore,
  redactUrl,
  redisTarget,
  timerSourceFor,
} from "./node-services.js";
import { MemoryPresence } from "./presence/memory-presence.js";
import type { Presence } from "./presence/presence.js";
import { loadOrCreateSharedVapidKeys, type VapidKeys } from "./push/vapid-keys.js";
import { MemoryRateLimits } from "./rate-limits/memory-rate-limits.js";
import { type RateLimits, rateLimitSettings } from "./rate-limits/rate-limits.js";
import { type ResolvedOptions, resolveOptions, type ServerOptions } from "./server-options.js";
import { LocalSessions } from "./session/local-sessions.js";
import { SessionService } from "./session/session-service.js";
import type { CallStore } from "./store/call-store.js";
import { PostgresCallStore } from "./store/postgres-call-store.js";
import { MemoryStreamBroker } from "./streams/memory-stream-broker.js";
import { RedisStreamBroker } from "./streams/redis-stream-broker.js";
import type { StreamBroker } from "./streams/stream-broker.js";
import type { TimerSource } from "./timers/timer-source.js";
import { TokenVerifier } from "./token-verifier.js";

/** Instances a node can be given instead of building its own. Shared ones are not closed by it. */
export interface NodeServices {
  store: CallStore;
  broker: StreamBroker;
  presence: Presence;
  /** Per-user request and login budgets and per-key API budgets. */
  rateLimits: RateLimits;
  timers: TimerSource;
  hooks: readonly Hook[];
  clock: () => number;
  logger: Logger;
  /** Names this node in presence; random by default. */
  nodeID: string;
}

export type CreateServerOptions = ServerOptions & {
  /** Service instances to use instead of those `store` and `redis` describe. */
  services?: Partial<NodeServices>;
  /**
   * The waits between a webhook delivery's attempts, in place of the standard schedule (18 retries
   * over about 24.5 h). Not a configuration setting: an embedding app or a test that must see a
   * dead letter soon shortens it here.
   */
  webhookRetryDelaysMs?: readonly number[];
};

export interface BeckonServer {
  /** The WebSocket URL the SDK connects to. */
  url: string;
  httpUrl: string;
  port: number;
  nodeID: string;
  close(): Promise<void>;
}

export interface BeckonNode {
  nodeID: string;
  /** Starts serving; resolves once the port is open. */
  listen(port?: number, host?: string): Promise<BeckonServer>;
  close(): Promise<void>;
}

/** Builds a node without opening a port. */
export async function buildNode(options: CreateServerOptions): Promise<BeckonNode> {
  const { services: given = {}, webhookRetryDelaysMs, ...settings } = options;
  const config: ResolvedOptions = resolveOptions(settings);
  if (config.redis && !isPostgresUrl(config.store) && !options.services?.store)
    throw new Error("createServer: cluster mode (`redis`) needs a postgres:// `store`");
  const log = given.logger ?? createLogger(config);
  const clock = given.clock ?? Date.now;
  const nodeID = given.nodeID ?? randomBytes(6).toString("base64url");
  // What this node made, it closes; what it was given belongs to whoever gave it.
  const owned: Array<{ close(): Promise<void> }> = [];
  const own = <T extends { close(): Promise<void> }>(made: T): T => {
    owned.push(made);
    return made;
  };
  const tokens = own(
    await new TokenVerifier(
      {
        secret: config.secret,
        ...(config.secretKeyID === undefined ? {} : { secretKeyID: config.secretKeyID }),
        ...(config.tokenKeys ? { tokenKeys: config.tokenKeys } : {}),
        ...(config.tokenJwksUrl ? { tokenJwksUrl: config.tokenJwksUrl } : {}),
        tokenJwksRefreshSeconds: config.tokenJwksRefreshSeconds,
        ...(config.zego ? { zego: config.zego } : {}),
        maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds,
      },
      log,
      clock,
    ).start(),
  );
  const redis = config.redis
    ? {
        url: config.redis,
        nodeID,
        resumeWindowMs: config.resumeWindowMs,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        clock,
      }
    : undefined;
  let store: CallStore;
  let broker: StreamBroker;
  let presence: Presence;
  let rateLimits: RateLimits;
  let vapidKeys: VapidKeys | undefined;
  const limits = rateLimitSettings(config);
  try {
    store = given.store ?? own(await openStore(config.store));
    broker =
      given.broker ??
      own(
        redis
          ? await openRedisBroker(redis)
          : new MemoryStreamBroker({ maxAgeMs: config.resumeWindowMs, maxBytes: 1 << 20 }, clock),
      );
    presence = given.presence ?? own(redis ? await openRedisPresence(redis) : new MemoryPresence());
    rateLimits =
      given.rateLimits ??
      own(
        redis
          ? await openRedisRateLimits(
              redis,
              limits,
              config.rateLimitTimeoutMs,
              (healthy, error) => {
                if (healthy) log.info("Redis rate limits are back: budgets are cluster-wide again");
                else
                  log.warn({ err: error }, "Redis rate limits unavailable: using this node's own");
              },
            )
          : new MemoryRateLimits(limits, clock),
      );
    // A cluster's nodes must sign Web Push with one pair: it lives in PostgreSQL beside the calls.
    if (config.push?.webPush && store instanceof PostgresCallStore) {
      vapidKeys = await loadOrCreateSharedVapidKeys(store.pool, config.push.vapidDir);
    }
  } catch (error) {
    for (const made of owned.reverse()) await made.close().catch(() => {});
    throw error;
  }
  const timers = given.timers ?? timerSourceFor(store, nodeID, clock, log);
  // The gauges read the node's own parts, which exist by the time Prometheus scrapes.
  let gauges = { devicesOnline: () => 0, pendingDeadlines: () => 0, pendingInvites: () => 0 };
  const metrics = new BeckonMetrics({
    devicesOnline: () => gauges.devicesOnline(),
    pendingDeadlines: () => gauges.pendingDeadlines(),
    activeCalls: () => store.countStartedCalls(),
    pendingInvites: () => gauges.pendingInvites(),
  });
  // Webhooks, push, timelines and keys keep their tables beside the calls: in PostgreSQL's
  // schema when the store is there (shared by every node), else in the SQLite file.
  const integrations = createIntegrations({
    database: integrationStoresFor(store, config.store),
    ...(vapidKeys ? { vapidKeys } : {}),
    nodeID,
    ...(config.push?.vapidDir ? { dataDir: config.push.vapidDir } : {}),
    ...(config.push ? { push: config.push } : {}),
    calls: store,
    presence,
    log,
    clock,
    webhookMaxPerSecond: config.webhookMaxPerSecond,
    ...(webhookRetryDelaysMs ? { webhookRetryDelaysMs } : {}),
    onPushOverflow: () => metrics.onOverflow("push"),
  });
  // The console's live numbers: this node's, left for the others on a board (Redis in a cluster).
  const liveStats = new LiveStats({
    nodeID,
    registry: metrics.registry,
    devicesOnline: () => gauges.devicesOnline(),
    clock,
  });
  let board: StatsBoard;
  try {
    board = own(
      redis ? await RedisStatsBoard.open(redisTarget(redis.url)) : new MemoryStatsBoard(),
    );
  } catch (error) {
    for (const made of owned.reverse()) await made.close().catch(() => {});
    throw error;
  }
  const hooks = [
    observabilityHook(metrics, log),
    liveStats.hook,
    ...integrations.hooks,
    ...(given.hooks ?? []),
  ];
  // A shared database pays a transaction per round: rounds gather longer there (hooks are off
  // the ring's path, and a read of the timeline flushes the round anyway).
  const relay = new OutboxRelay(
    store,
    hooks,
    log,
    undefined,
    store instanceof PostgresCallStore ? 50 : undefined,
  );
  /** A call's records once what was committed before the read has reached the hooks. */
  const callRecords = async (callID: string) => {
    await relay.flush();
    return integrations.records(callID);
  };
  const calls = new CallService({
    store,
    broker,
    presence,
    timers,
    relay,
    settings: {
      notReceivedCheckMs: config.notReceivedCheckMs,
      callerGraceMs: config.callerGraceMs,
      maxExtendedDataBytes: config.maxExtendedDataBytes,
      memberGraceMs: config.memberGraceMs,
    },
    log,
    clock,
    metrics,
    deliveries: integrations.deliveries,
    records: callRecords,
  });
  const sessions = new SessionService({
    nodeID,
    store,
    broker,
    presence,
    calls,
    hooks,
    settings: {
      tokens,
      maxDevicesPerUser: config.maxDevicesPerUser,
      resumeWindowMs: config.resumeWindowMs,
    },
    log,
    clock,
    metrics,
  });
  const admission = new Admission(config.overload, (op, bound) => metrics.onShed(op, bound));
  const localSessions = new LocalSessions(config, sessions, broker, rateLimits, log, clock);
  const gateway = new Gateway(
    config,
    localSessions,
    calls,
    rateLimits,
    log,
    clock,
    metrics,
    admission,
  );
  gauges = {
    devicesOnline: () => gateway.deviceCount,
    pendingDeadlines: () => timers.pending,
    pendingInvites: () => admission.pendingInvites,
  };
  const restored = await calls.startTimers();
  await integrations.start();
  relay.kick();

  // Cut off from Redis, a node cannot deliver: it hands its devices to the other nodes (they
  // reconnect through the load balancer) and turns new ones away until Redis is back.
  let reachable = true;
  if (broker instanceof RedisStreamBroker) {
    broker.onHealth((healthy) => {
      reachable = healthy;
      if (healthy) return;
      log.warn("Redis unreachable: handing this node's devices to the others");
      gateway.shed();
    });
  }
  const http = await buildHttpApp(
    config,
    {
      onlineUsers: (limit) => gateway.onlineUsers(limit),
      readiness: () =>
        checkReadiness(
          store,
          gateway.storeHealth,
          broker instanceof RedisStreamBroker ? () => broker.ping() : undefined,
        ),
      refuseSocket: (remoteAddress) =>
        reachable ? gateway.refuseSocket(remoteAddress) : "this node cannot reach Redis",
      acceptSocket: (socket, remoteAddress) => gateway.accept(socket, remoteAddress),
    },
    log,
  );
  const consoleFeed = new ConsoleFeed({
    stats: liveStats,
    board,
    store,
    health: integrations.health,
    log,
    clock,
  });
  await consoleFeed.start();
  await http.register(beckonApi, {
    prefix: API_PREFIX,
    secret: config.secret,
    maxExtendedDataBytes: config.maxExtendedDataBytes,
    ...(config.secretKeyID === undefined ? {} : { secretKeyID: config.secretKeyID }),
    tokens,
    calls,
    store,
    rateLimits,
    ...integrations.api,
    settled: () => relay.flush(),
    console: {
      sessions: new ConsoleSessions({ secret: config.secret, keys: integrations.keys, clock }),
      feed: consoleFeed,
      store,
      presence,
      pushRegistrations: integrations.pushRegistrations,
      webhooks: integrations.webhooks,
      health: integrations.health,
      pushProviders: integrations.dispatcher.providerNames(),
      clock,
    },
    admission,
  });
  http.all("/metrics", async (request, reply) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return reply.code(405).header("allow", "GET, HEAD").send();
    }
    return reply
      .type(metrics.contentType)
      .header("cache-control", "no-store")
      .send(await metrics.metricsText());
  });

  let sweeping = true;
  let sweep: Promise<void> = Promise.resolve();
  let purgeTimer: NodeJS.Timeout | undefined;
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      clearInterval(purgeTimer);
      sweeping = false;
      await consoleFeed.close(nodeID);
      await gateway.close();
      admission.stop();
      http.server.closeAllConnections();
      await http.close();
      await sweep;
      await calls.drain();
      calls.stop();
      sessions.stop();
      await relay.stop();
      await integrations.close();
      for (const made of owned.reverse()) await made.close();
    })();
    return closing;
  };

  const listen = async (port = config.port, host = config.host): Promise<BeckonServer> => {
    await http.listen({ port, host });
    const address = http.server.address() as AddressInfo;
    const shownHost = host.includes(":") ? `[${host}]` : host;
    log.info(
      { port: address.port, store: redactUrl(config.store), timers: restored, nodeID },
      "beckon listening",
    );
    sweep = sessions
      .sweepAfterRestart(() => sweeping)
      .catch((error: unknown) => log.error({ err: error }, "restart sweep failed"));
    // Ended calls older than the retention are dropped at start and then every hour.
    const purge = () =>
      store
        .purgeEndedBefore(clock() - config.retentionMs)
        .then(async (count) => {
          await integrations.purgeBefore(clock() - config.retentionMs);
          return count;
        })
        .then((count) => count > 0 && log.info({ count }, "purged old calls"))
        .catch((error: unknown) => log.warn({ err: error }, "purge failed"));
    await purge();
    purgeTimer = setInterval(purge, Math.max(1_000, Math.min(config.retentionMs, 3_600_000)));
    purgeTimer.unref();
    return {
      url: `ws://${shownHost}:${address.port}/ws`,
      httpUrl: `http://${shownHost}:${address.port}`,
      port: address.port,
      nodeID,
      close,
    };
  };
  return { nodeID, listen, close };
}

export async function createServer(options: CreateServerOptions): Promise<BeckonServer> {
  const node = await buildNode(options);
  try {
    return await node.listen();
  } catch (error) {
    await node.close();
    throw error;
  }
}
