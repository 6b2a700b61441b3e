// Scenario 0, the realistic workload: thousands of users with two devices each, heartbeating,
// ringing at fixed offered rates through invite -> receipts -> accept -> the other device stops,
// against Beckon (durable, SQLite) and the bare ws relay baseline in the same run.
import { BenchChild, stopAll } from "../bench-child.js";
import type { BenchConfig } from "../bench-config.js";
import type { SystemName } from "../load/call-peers.js";
import type { WorkloadResult } from "../load/workload-load.js";
import { CpuMeter } from "../proc-stats.js";
import type { LoopDelayReport } from "../servers/server-probes.js";
import { sleep, startServer, systemLabels } from "../servers-under-test.js";
import { type Summary, summarize } from "../stats.js";

export interface WorkloadRow {
  system: SystemName;
  label: string;
  users: number;
  devices: number;
  offeredPerSecond: number;
  sentPerSecond: number;
  /** Calls whose accept reached the caller inside the measured window, per second. */
  completedPerSecond: number;
  ringMs: Summary;
  callMs: Summary;
  skipped: number;
  errors: number;
  firstError: string | null;
  serverCpuPercent: number;
  loadCpuPercent: number;
  serverLoopDelayMaxMs: number;
  serverRssMiB: number;
}

const workloadScript = new URL("../load/workload-load.js", import.meta.url);

export async function runWorkload(
  config: BenchConfig,
  workDir: string,
  log: (line: string) => void,
  selected: (key: string) => boolean = () => true,
): Promise<WorkloadRow[]> {
  const rows: WorkloadRow[] = [];
  const { workload } = config;
  for (const system of ["beckon", "ws-relay"] as const) {
    if (!selected(system)) continue;
    const server = await startServer(system, workDir);
    const { child: load } = await BenchChild.start("workload load", workloadScript);
    try {
      const connected = await load.call<{ users: number; devices: number }>(
        "connect",
        { target: server.target, prefix: "w", pairs: workload.users / 2, concurrency: 50 },
        600_000,
      );
      const label = systemLabels[system];
      log(`  ${label}: ${connected.users} users, ${connected.devices} devices logged in`);
      for (const rate of workload.rates) {
        await server.child.call<LoopDelayReport>("loopDelay");
        const phase = load.call<WorkloadResult>(
          "run",
          { rate, warmupMs: workload.warmupMs, durationMs: workload.durationMs },
          120_000,
        );
        await sleep(workload.warmupMs);
        const meter = new CpuMeter([server.child.pid, load.pid]);
        await sleep(workload.durationMs);
        const [serverCpu, loadCpu] = meter.read();
        const result = await phase;
        const delay = await server.child.call<LoopDelayReport>("loopDelay");
        const memory = await server.child.call<{ rss: number }>("memory");
        const seconds = workload.durationMs / 1000;
        const row: WorkloadRow = {
          system,
          label,
          users: connected.users,
          devices: connected.devices,
          offeredPerSecond: rate,
          sentPerSecond: result.sent / seconds,
          completedPerSecond: result.completed / seconds,
          ringMs: summarize(result.ringMs),
          callMs: summarize(result.callMs),
          skipped: result.skipped,
          errors: result.errors + result.unfinished,
          firstError: result.firstError,
          serverCpuPercent: serverCpu ?? Number.NaN,
          loadCpuPercent: loadCpu ?? Number.NaN,
          serverLoopDelayMaxMs: delay.maxMs,
          serverRssMiB: memory.rss / 2 ** 20,
        };
        rows.push(row);
        log(
          `  ${label} @ ${rate}/s: ${row.completedPerSecond.toFixed(0)} calls/s, ring p50 ${row.ringMs.p50.toFixed(2)} p99 ${row.ringMs.p99.toFixed(2)} ms, server CPU ${row.serverCpuPercent.toFixed(0)}%`,
        );
      }
    } finally {
      await load.call("close", {}, 60_000).catch(() => undefined);
      await stopAll([load, server.child]);
    }
  }
  return rows;
}
