// Scenario 7, cluster mode: the realistic workload (scenario 0) against one SQLite node, one
// node on PostgreSQL + Redis, and clusters of 2 and 3 such nodes on this machine, every user's
// two devices on different nodes. CPU is reported for everything that serves the load: the
// nodes, PostgreSQL's processes and Redis, so a cluster on one machine is not flattered.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
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
}

export interface ClusterResults {
  rows: ClusterRow[];
  /** Why the cluster setups did not run, when PostgreSQL or Redis is absent. */
  skipped?: string;
}

const POSTGRES =
  process.env.BECKON_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS = process.env.BECKON_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const workloadScript = new URL("../load/workload-load.js", import.meta.url);

/** The pids of every running process whose command name is `name` (PostgreSQL forks many). */
function pidsNamed(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === name) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

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

async function servicesUp(): Promise<string | null> {
  const client = new pg.Client({ connectionString: POSTGRES });
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch (error) {
    return `PostgreSQL at ${POSTGRES} is not reachable (${String(error)})`;
  } finally {
    await client.end().catch(() => undefined);
  }
  const redis = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    return `Redis at ${REDIS} is not reachable (${String(error)})`;
  } finally {
    redis.disconnect();
  }
  return null;
}

async function dropCluster(schema: string, prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
  const redis = new Redis(REDIS);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

interface Setup {
  /** For `--runs`. */
  key: string;
  label: string;
  nodes: number;
  cluster: boolean;
}

const setups: Setup[] = [
  { key: "sqlite-1", label: "1 node, SQLite", nodes: 1, cluster: false },
  { key: "cluster-1", label: "1 node, PostgreSQL + Redis", nodes: 1, cluster: true },
  { key: "cluster-2", label: "2 nodes, PostgreSQL + Redis", nodes: 2, cluster: true },
  { key: "cluster-3", label: "3 nodes, PostgreSQL + Redis", nodes: 3, cluster: true },
];

export async function runCluster(
  config: BenchConfig,
  workDir: string,
  log: (line: string) => void,
  selected: (key: string) => boolean = () => true,
): Promise<ClusterResults> {
  const rows: ClusterRow[] = [];
  const absent = await servicesUp();
  if (absent && process.env.CI === "true") throw new Error(`cluster scenario: ${absent}`);
  if (absent) log(`  cluster setups skipped: ${absent}`);
  const { cluster } = config;
  for (const setup of setups) {
    if ((setup.cluster && absent) || !selected(setup.key)) continue;
    const tag = randomBytes(4).toString("hex");
    const schema = `bench_${tag}`;
    const prefix = `bench-${tag}:`;
    const secret = randomBytes(24).toString("base64url");
    const servers: RunningServer[] = [];
    let load: BenchChild | undefined;
    try {
      for (let n = 0; n < setup.nodes; n++) {
        servers.push(
          await startServer(
            "beckon",
            workDir,
            setup.cluster
              ? {
                  store: `${POSTGRES}?schema=${schema}`,
                  redis: `${REDIS}?prefix=${prefix}`,
                  secret,
                }
              : { secret },
          ),
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
        const postgresPids = setup.cluster ? pidsNamed("postgres") : [];
        const redisPids = setup.cluster ? pidsNamed("redis-server") : [];
        const all = [...nodePids, ...postgresPids, ...redisPids, load.pid];
        const before = groupCpu(all);
        const started = performance.now();
        await sleep(cluster.durationMs);
        const after = groupCpu(all);
        const elapsed = performance.now() - started;
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
          nodesCpuPercent: share(nodePids),
          postgresCpuPercent: share(postgresPids),
          redisCpuPercent: share(redisPids),
          loadCpuPercent: share([load.pid]),
          loopDelayMaxMs,
        };
        rows.push(row);
        log(
          `  ${setup.label} @ ${rate}/s: ${row.completedPerSecond.toFixed(0)} calls/s, ring p50 ${row.ringMs.p50.toFixed(2)} p99 ${row.ringMs.p99.toFixed(2)} ms, CPU nodes ${row.nodesCpuPercent.toFixed(0)}% pg ${row.postgresCpuPercent.toFixed(0)}% redis ${row.redisCpuPercent.toFixed(0)}%`,
        );
      }
    } finally {
      await load?.call("close", {}, 60_000).catch(() => undefined);
      await stopAll([...(load ? [load] : []), ...servers.map((server) => server.child)]);
      if (setup.cluster) await dropCluster(schema, prefix);
    }
  }
  return { rows, ...(absent ? { skipped: absent } : {}) };
}
