// The server under test, as production runs it: the built @beckon/server on a SQLite file (WAL),
// or as one cluster node on PostgreSQL and Redis, in its own process. Only the rate limit is raised, so the load is not refused; the rest of its
// settings are the defaults unless the scenario says otherwise (BENCH_SERVER, JSON).
import type { createServer as CreateServer, CreateServerOptions } from "@beckon/server";
import { serveCommands } from "../bench-child.js";
import { serverProbes } from "./server-probes.js";
import { installSqliteCounters, sqliteCounts } from "./sqlite-counters.js";

interface BeckonServerSettings {
  /** A SQLite file, or postgres://…?schema=… for a cluster node. */
  store: string;
  /** redis://…?prefix=… for a cluster node. */
  redis?: string;
  secret: string;
  callerGraceMs?: number;
  /** Offline push providers, as `createServer` takes them. */
  push?: CreateServerOptions["push"];
  overload?: CreateServerOptions["overload"];
  /** Another build of @beckon/server to run instead (its dist/index.js), for before/after runs. */
  module?: string;
}

const settings = JSON.parse(process.env.BENCH_SERVER ?? "{}") as BeckonServerSettings;
// Before the store opens: every statement and transaction of this process is counted.
installSqliteCounters();
const { createServer } = (await import(settings.module ?? "@beckon/server")) as {
  createServer: typeof CreateServer;
};
const server = await createServer({
  store: settings.store,
  secret: settings.secret,
  port: 0,
  host: "127.0.0.1",
  logLevel: "silent",
  rateLimit: { burst: 1_000_000, perSecond: 1_000_000 },
  ...(settings.redis === undefined ? {} : { redis: settings.redis }),
  ...(settings.callerGraceMs === undefined ? {} : { callerGraceMs: settings.callerGraceMs }),
  ...(settings.push ? { push: settings.push } : {}),
  ...(settings.overload ? { overload: settings.overload } : {}),
});

const stop = () => {
  void server.close().finally(() => process.exit(0));
};
process.once("SIGTERM", stop);

serveCommands(
  {
    ...serverProbes,
    sqliteCounts,
    close: async () => {
      await server.close();
      return {};
    },
  },
  // performance.now() counts from this process's start: Node's boot, module loading,
  // opening the store and re-arming its timers are all in it.
  { url: server.url, httpUrl: server.httpUrl, port: server.port, listeningMs: performance.now() },
);
