// The server under test, as production runs it: the built @beckon/server on a SQLite file (WAL),
// or as one cluster node on PostgreSQL and Redis, in its own process. Only the rate limit is raised, so the load is not refused; the rest of its
// settings are the defaults unless the scenario says otherwise (BENCH_SERVER, JSON).
import { type CreateServerOptions, createServer } from "@beckon/server";
import { serveCommands } from "../bench-child.js";
import { serverProbes } from "./server-probes.js";

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
}

const settings = JSON.parse(process.env.BENCH_SERVER ?? "{}") as BeckonServerSettings;
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
    close: async () => {
      await server.close();
      return {};
    },
  },
  // performance.now() counts from this process's start: Node's boot, module loading,
  // opening the store and re-arming its timers are all in it.
  { url: server.url, httpUrl: server.httpUrl, port: server.port, listeningMs: performance.now() },
);
