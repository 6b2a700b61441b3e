// Scenarios 1 and 2: ring latency at fixed offered rates, and complete calls per second at
// saturation, for Beckon and its baselines, each with thousands of users logged in.
import { BenchChild, stopAll } from "../bench-child.js";
import type { BenchConfig } from "../bench-config.js";
import type { RingResult, SaturateResult } from "../load/call-load.js";
import type { SystemName } from "../load/call-peers.js";
import { CpuMeter } from "../proc-stats.js";
import {
  callLoadScript,
  type RunningServer,
  sleep,
  startServer,
  systemLabels,
} from "../servers-under-test.js";
import { type Summary, summarize } from "../stats.js";

export interface RingRow {
  system: SystemName;
  label: string;
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
}

export interface ThroughputRow {
  system: SystemName;
  label: string;
  flow: "accept" | "reject";
  pairsRinging: number;
  callsPerSecond: number;
  callTimeMs: Summary;
  errors: number;
  firstError: string | null;
  serverCpuPercent: number;
  loadCpuPercent: number;
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

async function runSystem(
  system: SystemName,
  config: BenchConfig["calls"],
  workDir: string,
  log: (line: string) => void,
  results: CallScenarioResults,
): Promise<void> {
  let server: RunningServer | undefined;
  const loads: BenchChild[] = [];
  try {
    server = await startServer(system, workDir);
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
    log(`  ${systemLabels[system]}: ${users} users logged in`);
    const pids = [server.child.pid, ...loads.map((load) => load.pid)];
    const cpuOf = (cpu: number[]) => ({
      server: cpu[0] ?? Number.NaN,
      load: cpu.slice(1).reduce((sum, value) => sum + value, 0),
    });

    for (const rate of config.rates) {
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
      const row: RingRow = {
        system,
        label: systemLabels[system],
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
      };
      results.ring.push(row);
      log(
        `  ${row.label} @ ${rate}/s: p50 ${row.latencyMs.p50.toFixed(2)} ms, p99 ${row.latencyMs.p99.toFixed(2)} ms, server CPU ${row.serverCpuPercent.toFixed(0)}%`,
      );
    }

    if (system === "ws-relay") return;
    for (const flow of ["accept", "reject"] as const) {
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
      const row: ThroughputRow = {
        system,
        label: systemLabels[system],
        flow,
        pairsRinging: config.saturationPairsPerProcess * loads.length,
        callsPerSecond: parts.reduce((sum, p) => sum + p.completed, 0) / (config.durationMs / 1000),
        callTimeMs: summarize(parts.flatMap((p) => p.callTimes)),
        errors: parts.reduce((sum, p) => sum + p.errors, 0),
        firstError: parts.find((p) => p.firstError)?.firstError ?? null,
        serverCpuPercent: cpuOf(cpu).server,
        loadCpuPercent: cpuOf(cpu).load,
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

export async function runCallScenarios(
  config: BenchConfig,
  workDir: string,
  log: (line: string) => void,
): Promise<CallScenarioResults> {
  const results: CallScenarioResults = { ring: [], throughput: [] };
  for (const system of ["beckon", "ws-relay", "socketio"] as const) {
    await runSystem(system, config.calls, workDir, log, results);
  }
  return results;
}
