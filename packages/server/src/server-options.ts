// Everything `createServer` can be told, with the SPEC's defaults.
import { defaultEngineSettings } from "@beckon/engine";
import { MAX_DEVICES_PER_USER } from "@beckon/protocol";

export interface ServerOptions {
  /** Signs and verifies login tokens. Required. */
  secret: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** A SQLite file path, ':memory:' (the default), or `postgres://…[?schema=name]`. */
  store?: string;
  /** `redis://…[?prefix=name]` for cluster mode (needs a PostgreSQL store); see docs/cluster.md. */
  redis?: string;
  heartbeatIntervalMs?: number;
  /** How long a lost caller device may stay away before its unanswered calls are cancelled. */
  callerGraceMs?: number;
  /** How long an Accepted member may have no device connected before it is quit (SPEC §5). */
  memberGraceMs?: number;
  /** Delay before a still-Inviting invitee becomes NotYetReceived (3000–5000). */
  notReceivedCheckMs?: number;
  maxDevicesPerUser?: number;
  maxExtendedDataBytes?: number;
  tokenWarningSeconds?: number;
  loginTimeoutMs?: number;
  /** How long ended calls are kept for `queryCallInvitationList` (default 30 days). */
  retentionMs?: number;
  /** How long a dropped device may take to come back and get exactly the events it missed. */
  resumeWindowMs?: number;
  rateLimit?: { burst: number; perSecond: number };
  /** Serve `POST /dev/token`, which mints a token for any user. Development only. */
  devTokens?: boolean;
  /** A folder of static files (the demo) served at `/`. */
  staticDir?: string;
  /** pino level; 'silent' turns logging off. */
  logLevel?: string;
}

export type ResolvedOptions = Required<Omit<ServerOptions, "redis" | "staticDir">> &
  Pick<ServerOptions, "redis" | "staticDir">;

export function resolveOptions(options: ServerOptions): ResolvedOptions {
  if (typeof options.secret !== "string" || options.secret.length < 16) {
    throw new Error("createServer: `secret` must be a string of at least 16 characters");
  }
  const notReceivedCheckMs = options.notReceivedCheckMs ?? defaultEngineSettings.notReceivedCheckMs;
  return {
    secret: options.secret,
    port: options.port ?? 0,
    host: options.host ?? "127.0.0.1",
    store: options.store ?? ":memory:",
    redis: options.redis,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 10_000,
    callerGraceMs: options.callerGraceMs ?? defaultEngineSettings.callerGraceMs,
    notReceivedCheckMs,
    memberGraceMs: options.memberGraceMs ?? defaultEngineSettings.memberGraceMs,
    maxDevicesPerUser: options.maxDevicesPerUser ?? MAX_DEVICES_PER_USER,
    maxExtendedDataBytes:
      options.maxExtendedDataBytes ?? defaultEngineSettings.maxExtendedDataBytes,
    tokenWarningSeconds: options.tokenWarningSeconds ?? 30,
    loginTimeoutMs: options.loginTimeoutMs ?? 10_000,
    resumeWindowMs: options.resumeWindowMs ?? 120_000,
    retentionMs: options.retentionMs ?? 30 * 86_400_000,
    rateLimit: options.rateLimit ?? { burst: 200, perSecond: 100 },
    devTokens: options.devTokens ?? false,
    staticDir: options.staticDir,
    logLevel: options.logLevel ?? "info",
  };
}
