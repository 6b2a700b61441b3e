// Scenario 8, cluster mode: the realistic workload (scenario 0) against one SQLite node, one
// node on PostgreSQL + Redis, and clusters of 2 and 3 such nodes on this machine, every user's
// two devices on different nodes. CPU is reported for everything that serves the load: the
// nodes, PostgreSQL's backends and Redis, so a cluster on one machine is not flattered. Each
// cluster gets a database of its own and a redis-server of its own (on a free loopback port),
// so its PostgreSQL transactions and Redis commands per call are counted exactly, whatever
// else uses the machine's services meanwhile.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { Redis } from "ioredis";
import pg from "pg";
import { BenchChild, stopAll } from "../bench-child.js";
import type { BenchConfig } from "../bench-config.js";
import type { PeerTarget } from "../load/call-peers.js";
import type { WorkloadResult } from "../load/workload-load.js";
import { cpuSeconds } from "../proc-stats.js";
import type { LoopDelayReport } from "../servers/server-probes.js";
import { type RunningServer, sleep, startServer } from "../servers-under-test.js";
import { type Summary, summarize } from "../stats.js";

/** What one complete call cost each part, over the measured window. */
export interface PerCall {
  /** PostgreSQL transactions (pg_stat_database xact_commit + xact_rollback of the bench's database). */
  postgresTransactions: number;
  /** Of which rolled back: lost compare-and-sets and other failed commits. */
  postgresRollbacks: number;
  /** Redis commands as `INFO stats` counts them (those run inside scripts included). */
  redisCommands: number;
  /** Redis CPU (`INFO cpu` used_cpu_sys + used_cpu_user), ms. */
  redisCpuMs: number;
  /** The nodes' CPU, ms. */
  nodesCpuMs: number;
  /** The CPU of the PostgreSQL backends serving the bench's database, ms. */
  postgresCpuMs: number;
  /** The Redis commands that cost most, per call, most first. */
  redisTop: Array<[string, number]>;
}

export interface ClusterRow {
  setup: string;
  nodes: number;
  devices: number;
  offeredPerSecond: number;
  completedPerSecond: number;
  ringMs: Summary;
  callMs: Summary;
  errors: number;
  skipped: number;
  /** Percent of one core, summed over the nodes. */
  nodesCpuPercent: number;
  postgresCpuPercent: number;
  redisCpuPercent: number;
  loadCpuPercent: number;
  /** The busiest node's event-loop delay. */
  loopDelayMaxMs: number;
  /** The nodes' CPU per call that completed in the window (whenever it started), ms. */
  nodesCpuMsPerCall: number;
  /** Cluster setups only. */
  perCall?: PerCall;
}

export interface ClusterResults {
  rows: ClusterRow[];
  /** Why the cluster setups did not run, when PostgreSQL or redis-server is absent. */
  skipped?: string;
}

const POSTGRES =
  process.env.BECKON_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_SERVER = process.env.BENCH_REDIS_SERVER ?? "redis-server";
const workloadScript = new URL("../load/workload-load.js", import.meta.url);

/** CPU seconds of a group of processes; ones that end meanwhile count as 0 from then. */
function groupCpu(pids: readonly number[]): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const pid of pids) {
    try {
      seconds.set(pid, cpuSeconds(pid));
    } catch {
      seconds.set(pid, 0);
    }
  }
  return seconds;
}

function percentSince(before: Map<number, number>, after: Map<number, number>, ms: number): number {
  let used = 0;
  for (const [pid, end] of after) used += Math.max(0, end - (before.get(pid) ?? end));
  return (100 * used) / (ms / 1000);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** A redis-server of the bench's own, on a free loopback port, no persistence. */
interface OwnRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  try {
    for (let attempt = 0; ; attempt++) {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      probe.on("error", () => {});
      const answered = await Promise.race([
        probe.connect().then(
          () => probe.ping().then(() => true),
          () => false,
        ),
        failed,
      ]);
      probe.disconnect();
      if (answered) break;
      if (attempt > 100) throw new Error(`redis-server on ${url} does not answer`);
      await sleep(50);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  if (child.pid === undefined) throw new Error("redis-server has no pid");
  return { url, pid: child.pid, stop };
}

async function adminQuery<T extends pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: POSTGRES });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Why the cluster setups cannot run here, or null. */
async function servicesAbsent(): Promise<string | null> {
  try {
    await adminQuery("SELECT 1");
  } catch (error) {
    return `PostgreSQL at ${POSTGRES} is not reachable (${String(error)})`;
  }
  try {
    const redis = await startRedis();
    await redis.stop();
  } catch (error) {
    return `cannot start ${REDIS_SERVER} (${String(error)})`;
  }
  return null;
}

/** The bench's own database on the same server: pg_stat_database then counts only its work. */
function databaseUrl(database: string): string {
  const url = new URL(POSTGRES);
  url.pathname = `/${database}`;
  return url.toString();
}

interface Counters {
  transactions: number;
  rollbacks: number;
  redisCommands: number;
  redisCpuSeconds: number;
  commandstats: Map<string, number>;
}

function infoField(info: string, field: string): number {
  const match = new RegExp(`^${field}:([\\d.]+)`, "m").exec(info);
  return match ? Number(match[1]) : 0;
}

async function readCounters(redis: Redis, database: string): Promise<Counters> {
  // From the admin database, so reading the counters adds nothing to the bench's own.
  const [row] = await adminQuery<{ n: string; r: string }>(
    "SELECT xact_commit + xact_rollback AS n, xact_rollback AS r FROM pg_stat_database WHERE datname = $1",
    [database],
  );
  const stats = await redis.info("stats");
  const cpu = await redis.info("cpu");
  const commands = await redis.info("commandstats");
  const commandstats = new Map<string, number>();
  for (const match of commands.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    commandstats.set(match[1] as string, Number(match[2]));
  return {
    transactions: Number(row?.n ?? 0),
    rollbacks: Number(row?.r ?? 0),
    redisCommands: infoField(stats, "total_commands_processed"),
    redisCpuSeconds: infoField(cpu, "used_cpu_sys") + infoField(cpu, "used_cpu_user"),
    commandstats,
  };
}

interface Setup {
  /** For `--runs`. */
  key: string;
  label: string;
  nodes: number;
  cluster: boolean;
  /** Another build of @beckon/server (its dist/index.js), for a baseline in the same run. */
  module?: string;
}

// BENCH_BASELINE_SERVER names another build of @beckon/server: `cluster-2-baseline` runs two
// nodes of it beside this build's, for before/after figures from one run.
const baseline = process.env.BENCH_BASELINE_SERVER;

const setups: Setup[] = [
  { key: "sqlite-1", label: "1 node, SQLite", nodes: 1, cluster: false },
  { key: "cluster-1", label: "1 node, PostgreSQL + Redis", nodes: 1, cluster: true },
  { key: "cluster-2", label: "2 nodes, PostgreSQL + Redis", nodes: 2, cluster: true },
  { key: "cluster-3", label: "3 nodes, PostgreSQL + Redis", nodes: 3, cluster: true },
  ...(baseline
    ? [
        {
          key: "cluster-2-baseline",
          label: "2 nodes, PostgreSQL + Redis (baseline build)",
          nodes: 2,
          cluster: true,
          module: baseline,
        },
      ]
    : []),
];

export async function runCluster(
  config: BenchConfig,
  workDir: string,
  log: (line: string) => void,
  selected: (key: string) => boolean = () => true,
): Promise<ClusterResults> {
  const rows: ClusterRow[] = [];
  const wanted = setups.filter((setup) => selected(setup.key));
  const absent = wanted.some((setup) => setup.cluster) ? await servicesAbsent() : null;
  if (absent && process.env.CI === "true") throw new Error(`cluster scenario: ${absent}`);
  if (absent) log(`  cluster setups skipped: ${absent}`);
  const { cluster } = config;
  for (const setup of wanted) {
    if (setup.cluster && absent) continue;
    const tag = randomBytes(4).toString("hex");
    const database = `beckon_bench_${tag}`;
    const secret = randomBytes(24).toString("base64url");
    const servers: RunningServer[] = [];
    let load: BenchChild | undefined;
    let redis: OwnRedis | undefined;
    let counter: Redis | undefined;
    try {
      if (setup.cluster) {
        redis = await startRedis();
        counter = new Redis(redis.url);
        await adminQuery(`CREATE DATABASE ${database}`);
      }
      for (let n = 0; n < setup.nodes; n++) {
        servers.push(
          await startServer("beckon", workDir, {
            ...(redis
              ? { store: databaseUrl(database), redis: `${redis.url}?prefix=bench:`, secret }
              : { secret }),
            ...(setup.module ? { module: setup.module } : {}),
          }),
        );
      }
      const targets: PeerTarget[] = servers.map((server) => server.target);
      load = (await BenchChild.start("cluster load", workloadScript)).child;
      const connected = await load.call<{ devices: number }>(
        "connect",
        { target: targets[0], targets, prefix: "k", pairs: cluster.users / 2, concurrency: 50 },
        600_000,
      );
      log(`  ${setup.label}: ${connected.devices} devices logged in`);
      for (const rate of cluster.rates) {
        for (const server of servers) await server.child.call<LoopDelayReport>("loopDelay");
        const phase = load.call<WorkloadResult>(
          "run",
          { rate, warmupMs: cluster.warmupMs, durationMs: cluster.durationMs },
          120_000,
        );
        await sleep(cluster.warmupMs);
        const nodePids = servers.map((server) => server.child.pid);
        const postgresPids = redis
          ? (
              await adminQuery<{ pid: number }>(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1",
                [database],
              )
            ).map((row) => row.pid)
          : [];
        const redisPids = redis ? [redis.pid] : [];
        const all = [...nodePids, ...postgresPids, ...redisPids, load.pid];
        const countedBefore = counter ? await readCounters(counter, database) : undefined;
        const before = groupCpu(all);
        const started = performance.now();
        await sleep(cluster.durationMs);
        const after = groupCpu(all);
        const elapsed = performance.now() - started;
        const countedAfter = counter ? await readCounters(counter, database) : undefined;
        const share = (pids: readonly number[]) =>
          percentSince(
            before,
            new Map(pids.map((pid) => [pid, after.get(pid) ?? 0] as [number, number])),
            elapsed,
          );
        const result = await phase;
        let loopDelayMaxMs = 0;
        for (const server of servers) {
          const delay = await server.child.call<LoopDelayReport>("loopDelay");
          loopDelayMaxMs = Math.max(loopDelayMaxMs, delay.maxMs);
        }
        const seconds = cluster.durationMs / 1000;
        const nodesCpuPercent = share(nodePids);
        const postgresCpuPercent = share(postgresPids);
        const calls = Math.max(1, result.finishedInWindow);
        /** CPU ms per complete call from a share of one core over the window. */
        const msPerCall = (percent: number) => (percent * 10 * (elapsed / 1000)) / calls;
        const row: ClusterRow = {
          setup: setup.label,
          nodes: setup.nodes,
          devices: connected.devices,
          offeredPerSecond: rate,
          completedPerSecond: result.completed / seconds,
          ringMs: summarize(result.ringMs),
          callMs: summarize(result.callMs),
          errors: result.errors + result.unfinished,
          skipped: result.skipped,
          nodesCpuPercent,
          postgresCpuPercent,
          redisCpuPercent: share(redisPids),
          loadCpuPercent: share([load.pid]),
          loopDelayMaxMs,
          nodesCpuMsPerCall: msPerCall(nodesCpuPercent),
        };
        if (countedBefore && countedAfter) {
          const top: Array<[string, number]> = [];
          for (const [command, count] of countedAfter.commandstats) {
            const delta = count - (countedBefore.commandstats.get(command) ?? 0);
            if (delta > 0) top.push([command, delta / calls]);
          }
          top.sort((a, b) => b[1] - a[1]);
          row.perCall = {
            postgresTransactions: (countedAfter.transactions - countedBefore.transactions) / calls,
            postgresRollbacks: (countedAfter.rollbacks - countedBefore.rollbacks) / calls,
            redisCommands: (countedAfter.redisCommands - countedBefore.redisCommands) / calls,
            redisCpuMs:
              (1000 * (countedAfter.redisCpuSeconds - countedBefore.redisCpuSeconds)) / calls,
            nodesCpuMs: msPerCall(nodesCpuPercent),
            postgresCpuMs: msPerCall(postgresCpuPercent),
            redisTop: top.slice(0, 10),
          };
        }
        rows.push(row);
        log(
          `  ${setup.label} @ ${rate}/s: ${row.completedPerSecond.toFixed(0)} calls/s, ring p50 ${row.ringMs.p50.toFixed(2)} p99 ${row.ringMs.p99.toFixed(2)} ms, CPU nodes ${row.nodesCpuPercent.toFixed(0)}% (${msPerCall(nodesCpuPercent).toFixed(2)} ms/call) pg ${row.postgresCpuPercent.toFixed(0)}% redis ${row.redisCpuPercent.toFixed(0)}%`,
        );
        const per = row.perCall;
        if (per) {
          log(
            `    per call: ${per.postgresTransactions.toFixed(2)} PostgreSQL transactions (${per.postgresRollbacks.toFixed(2)} rolled back), ${per.redisCommands.toFixed(1)} Redis commands, Redis CPU ${per.redisCpuMs.toFixed(3)} ms, PostgreSQL CPU ${per.postgresCpuMs.toFixed(2)} ms`,
          );
          log(
            `    Redis commands per call: ${per.redisTop.map(([name, n]) => `${name} ${n.toFixed(1)}`).join(", ")}`,
          );
        }
      }
    } finally {
      await load?.call("close", {}, 60_000).catch(() => undefined);
      await stopAll([...(load ? [load] : []), ...servers.map((server) => server.child)]);
      counter?.disconnect();
      await redis?.stop();
      if (setup.cluster)
        await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch((error) =>
          log(`  could not drop ${database}: ${String(error)}`),
        );
    }
  }
  return { rows, ...(absent ? { skipped: absent } : {}) };
}
