// Scenarios 1 and 2: ring latency at fixed offered rates, and complete calls per second at
// saturation, for Beckon and its baselines, each with thousands of users logged in.
import { join } from "node:path";
import Database from "better-sqlite3";
import { BenchChild, stopAll } from "../bench-child.js";
import type { BenchConfig } from "../bench-config.js";
import type { RingResult, SaturateResult } from "../load/call-load.js";
import type { SystemName } from "../load/call-peers.js";
import { CpuMeter } from "../proc-stats.js";
import { prepareStore } from "../seed-store.js";
import type { LoopDelayReport } from "../servers/server-probes.js";
import {
  callLoadScript,
  type RunningServer,
  sleep,
  startServer,
  systemLabels,
} from "../servers-under-test.js";
import { type Summary, summarize } from "../stats.js";

/** One server set-up that the call load runs against. */
export interface CallVariant {
  key: string;
  system: SystemName;
  label: string;
  /** Beckon only: ended calls already in the store when the run starts. */
  endedCalls?: number;
  ring: boolean;
  throughput: boolean;
}

export interface RingRow {
  variant: string;
  system: SystemName;
  label: string;
  /** Beckon only: calls in the store when the phase began. */
  storedCalls: number | null;
  users: number;
  offeredPerSecond: number;
  sentPerSecond: number;
  latencyMs: Summary;
  skipped: number;
  errors: number;
  unfinished: number;
  firstError: string | null;
  serverCpuPercent: number;
  loadCpuPercent: number;
  /** Longest the server's event loop was held up during the phase. */
  serverLoopDelayMaxMs: number;
}

export interface ThroughputRow {
  variant: string;
  system: SystemName;
  label: string;
  storedCalls: number | null;
  flow: "accept" | "reject";
  pairsRinging: number;
  callsPerSecond: number;
  callTimeMs: Summary;
  errors: number;
  firstError: string | null;
  serverCpuPercent: number;
  loadCpuPercent: number;
  serverLoopDelayMaxMs: number;
}

export interface CallScenarioResults {
  ring: RingRow[];
  throughput: ThroughputRow[];
}

/** Measures CPU only over the measured window of a phase, not its warm-up or drain. */
async function withCpuWindow<T>(
  pids: number[],
  warmupMs: number,
  durationMs: number,
  phase: Promise<T>,
): Promise<{ result: T; cpu: number[] }> {
  let cpu: number[] = pids.map(() => Number.NaN);
  const window = (async () => {
    await sleep(warmupMs);
    const meter = new CpuMeter(pids);
    await sleep(durationMs);
    cpu = meter.read();
  })();
  const [result] = await Promise.all([phase, window]);
  return { result, cpu };
}

function storedCalls(store: string | undefined): number | null {
  if (!store) return null;
  const db = new Database(store, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], { n: number }>("SELECT count(*) AS n FROM calls").get()?.n ?? null;
  } finally {
    db.close();
  }
}

async function runVariant(
  variant: CallVariant,
  config: BenchConfig["calls"],
  workDir: string,
  log: (line: string) => void,
  results: CallScenarioResults,
): Promise<void> {
  const { system, label } = variant;
  let server: RunningServer | undefined;
  const loads: BenchChild[] = [];
  try {
    let store: string | undefined;
    if (variant.endedCalls) {
      store = join(workDir, `${variant.key}.db`);
      await prepareStore(store, { endedCalls: variant.endedCalls });
    }
    server = await startServer(system, workDir, store ? { store } : {});
    for (let i = 0; i < config.loadProcesses; i++) {
      loads.push((await BenchChild.start(`call load ${i}`, callLoadScript)).child);
    }
    const target = server.target;
    const connected = await Promise.all(
      loads.map((load, i) =>
        load.call<{ users: number; ms: number }>("connect", {
          target,
          prefix: `p${i}`,
          pairs: config.pairsPerProcess,
          concurrency: 50,
        }),
      ),
    );
    const users = connected.reduce((sum, c) => sum + c.users, 0);
    log(`  ${label}: ${users} users logged in`);
    const pids = [server.child.pid, ...loads.map((load) => load.pid)];
    const cpuOf = (cpu: number[]) => ({
      server: cpu[0] ?? Number.NaN,
      load: cpu.slice(1).reduce((sum, value) => sum + value, 0),
    });

    const serverChild = server.child;
    const loopDelay = () => serverChild.call<LoopDelayReport>("loopDelay");
    for (const rate of variant.ring ? config.rates : []) {
      const before = storedCalls(server.store);
      await loopDelay();
      const { result: parts, cpu } = await withCpuWindow(
        pids,
        config.warmupMs,
        config.durationMs,
        Promise.all(
          loads.map((load) =>
            load.call<RingResult>("ring", {
              rate: rate / loads.length,
              warmupMs: config.warmupMs,
              durationMs: config.durationMs,
            }),
          ),
        ),
      );
      const sent = parts.reduce((sum, p) => sum + p.sent, 0);
      const delay = await loopDelay();
      const row: RingRow = {
        variant: variant.key,
        system,
        label,
        storedCalls: before,
        users,
        offeredPerSecond: rate,
        sentPerSecond: sent / (config.durationMs / 1000),
        latencyMs: summarize(parts.flatMap((p) => p.latencies)),
        skipped: parts.reduce((sum, p) => sum + p.skipped, 0),
        errors: parts.reduce((sum, p) => sum + p.errors, 0),
        unfinished: parts.reduce((sum, p) => sum + p.unfinished, 0),
        firstError: parts.find((p) => p.firstError)?.firstError ?? null,
        serverCpuPercent: cpuOf(cpu).server,
        loadCpuPercent: cpuOf(cpu).load,
        serverLoopDelayMaxMs: delay.maxMs,
      };
      results.ring.push(row);
      log(
        `  ${row.label} @ ${rate}/s: p50 ${row.latencyMs.p50.toFixed(2)} ms, p99 ${row.latencyMs.p99.toFixed(2)} ms, server CPU ${row.serverCpuPercent.toFixed(0)}%`,
      );
    }

    for (const flow of variant.throughput ? (["accept", "reject"] as const) : []) {
      const before = storedCalls(server.store);
      await loopDelay();
      const { result: parts, cpu } = await withCpuWindow(
        pids,
        config.warmupMs,
        config.durationMs,
        Promise.all(
          loads.map((load) =>
            load.call<SaturateResult>("saturate", {
              accept: flow === "accept",
              concurrency: config.saturationPairsPerProcess,
              warmupMs: config.warmupMs,
              durationMs: config.durationMs,
            }),
          ),
        ),
      );
      const delay = await loopDelay();
      const row: ThroughputRow = {
        variant: variant.key,
        system,
        label,
        storedCalls: before,
        flow,
        pairsRinging: config.saturationPairsPerProcess * loads.length,
        callsPerSecond: parts.reduce((sum, p) => sum + p.completed, 0) / (config.durationMs / 1000),
        callTimeMs: summarize(parts.flatMap((p) => p.callTimes)),
        errors: parts.reduce((sum, p) => sum + p.errors, 0),
        firstError: parts.find((p) => p.firstError)?.firstError ?? null,
        serverCpuPercent: cpuOf(cpu).server,
        loadCpuPercent: cpuOf(cpu).load,
        serverLoopDelayMaxMs: delay.maxMs,
      };
      results.throughput.push(row);
      log(
        `  ${row.label} ${flow}: ${row.callsPerSecond.toFixed(0)} calls/s, server CPU ${row.serverCpuPercent.toFixed(0)}%`,
      );
    }
  } finally {
    await Promise.all(loads.map((load) => load.call("close", {}, 30_000).catch(() => undefined)));
    await stopAll([...loads, server?.child]);
  }
}

/** Beckon and its baselines; in the full run also Beckon on a store holding many calls. */
export function callVariants(config: BenchConfig): CallVariant[] {
  const { historyCalls } = config.calls;
  const both = { ring: true, throughput: true };
  return [
    { key: "beckon", system: "beckon", label: systemLabels.beckon, ...both },
    {
      key: "ws-relay",
      system: "ws-relay",
      label: systemLabels["ws-relay"],
      ring: true,
      throughput: false,
    },
    { key: "socketio", system: "socketio", label: systemLabels.socketio, ...both },
    ...(historyCalls > 0
      ? [
          {
            key: "beckon-history",
            system: "beckon" as const,
            label: `Beckon, ${Math.round(historyCalls / 1000)}k calls stored`,
            endedCalls: historyCalls,
            ring: false,
            throughput: true,
          },
        ]
      : []),
  ];
}

export async function runCallScenarios(
  config: BenchConfig,
  workDir: string,
  log: (line: string) => void,
  selected: (key: string) => boolean = () => true,
): Promise<CallScenarioResults> {
  const results: CallScenarioResults = { ring: [], throughput: [] };
  for (const variant of callVariants(config).filter((variant) => selected(variant.key))) {
    await runVariant(variant, config.calls, workDir, log, results);
  }
  return results;
}
