// Starting the three systems under test as child processes, each the way it would run for real.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { CreateServerOptions } from "@beckon/server";
import { BenchChild } from "./bench-child.js";
import type { PeerTarget, SystemName } from "./load/call-peers.js";

export const systemLabels: Record<SystemName, string> = {
  beckon: "Beckon",
  "ws-relay": "A: bare ws relay",
  socketio: "B: Socket.IO relay",
};

const scripts: Record<SystemName, URL> = {
  beckon: new URL("./servers/beckon-server.js", import.meta.url),
  "ws-relay": new URL("./servers/ws-relay-server.js", import.meta.url),
  socketio: new URL("./servers/socketio-call-server.js", import.meta.url),
};

export interface RunningServer {
  system: SystemName;
  child: BenchChild;
  target: PeerTarget;
  /** Milliseconds from the process's start until it listened, as the process saw it. */
  listeningMs: number;
  /** Beckon only: its SQLite file. */
  store?: string;
  /** Beckon only: where its HTTP API (`/api`) answers. */
  httpUrl?: string;
}

export interface StartServerOptions {
  /** Beckon only: an existing SQLite file to open instead of a fresh one, or postgres://…. */
  store?: string;
  /** Beckon only: redis://… (a cluster node); every node of one cluster gets the same secret. */
  redis?: string;
  secret?: string;
  callerGraceMs?: number;
  /** Beckon only: offline push providers. */
  push?: CreateServerOptions["push"];
  /** Beckon only: the load bound (overload shedding); the server's defaults without it. */
  overload?: CreateServerOptions["overload"];
  /** Beckon only: another build of @beckon/server (its dist/index.js) to run instead. */
  module?: string;
}

let serial = 0;

/**
 * With BENCH_PROFILE_DIR set, each server writes a V8 CPU profile there when it stops;
 * BENCH_SERVER_FLAGS adds Node flags to every server (e.g. `--max-semi-space-size=64`).
 */
function profileArgs(): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  const flags = process.env.BENCH_SERVER_FLAGS?.split(" ").filter(Boolean) ?? [];
  return [...flags, ...(dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [])];
}

export async function startServer(
  system: SystemName,
  workDir: string,
  options: StartServerOptions = {},
): Promise<RunningServer> {
  serial += 1;
  const secret = options.secret ?? randomBytes(24).toString("base64url");
  const store = options.store ?? join(workDir, `beckon-${serial}.db`);
  const settings =
    system === "beckon"
      ? {
          store,
          secret,
          redis: options.redis,
          callerGraceMs: options.callerGraceMs,
          push: options.push,
          overload: options.overload,
          module: options.module,
        }
      : {};
  const { child, info } = await BenchChild.start(`${system} server`, scripts[system], {
    env: { BENCH_SERVER: JSON.stringify(settings) },
    execArgv: ["--expose-gc", ...profileArgs()],
  });
  const url = String(info.url);
  return {
    system,
    child,
    target: system === "beckon" ? { system, url, secret } : { system, url },
    listeningMs: Number(info.listeningMs),
    ...(system === "beckon" ? { store, httpUrl: String(info.httpUrl) } : {}),
  };
}

export const callLoadScript = new URL("./load/call-load.js", import.meta.url);
export const deviceLoadScript = new URL("./load/device-load.js", import.meta.url);

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
