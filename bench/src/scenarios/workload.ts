// Scenario 0, the realistic workload: thousands of users with two devices each, heartbeating,
// ringing at fixed offered rates through invite -> receipts -> accept -> the other device stops,
// against Beckon (durable, SQLite) and the bare ws relay baseline in the same run.
import { BenchChild, stopAll } from "../bench-child.js";
import type { BenchConfig } from "../bench-config.js";
import type { SystemName } from "../load/call-peers.js";
import type { WorkloadResult } from "../load/workload-load.js";
import { CpuMeter, type IoCounts, ioCounts } from "../proc-stats.js";
import type { LoopDelayReport } from "../servers/server-probes.js";
import type { SqliteCounts } from "../servers/sqlite-counters.js";
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
  /** Invitations refused as busy (6000020) in the measured window. */
  refused: number;
  firstError: string | null;
  serverCpuPercent: number;
  loadCpuPercent: number;
  serverLoopDelayMaxMs: number;
  serverRssMiB: number;
  /** Per complete call in the measured window: what the server spent and wrote. */
  perCall: CallCost;
}

/** One complete call's share of the server's work over the measured window. */
export interface CallCost {
  /** Server CPU (user + system), ms. */
  cpuMs: number;
  /** SQLite statements run (writes + reads); NaN for a system without SQLite. */
  statements: number;
  writes: number;
  reads: number;
  transactions: number;
  /** /proc/<pid>/io write_bytes: what reached the storage layer (WAL, checkpoints). */
  writtenBytes: number;
  /** File and socket writes together (wchar), for comparison. */
  wcharBytes: number;
  /** Executions per call of each SQL statement (in the JSON only). */
  bySql: Record<string, number>;
}

/** What the server has done so far, read before and after a window. */
interface ServerTally {
  sqlite: SqliteCounts | null;
  io: IoCounts;
}

async function tally(server: { child: BenchChild }, system: SystemName): Promise<ServerTally> {
  const sqlite = system === "beckon" ? await server.child.call<SqliteCounts>("sqliteCounts") : null;
  return { sqlite, io: ioCounts(server.child.pid) };
}

function costPerCall(
  before: ServerTally,
  after: ServerTally,
  cpuPercent: number,
  seconds: number,
  calls: number,
): CallCost {
  const per = (value: number) => (calls > 0 ? value / calls : Number.NaN);
  const sqlite = (key: "writes" | "reads" | "transactions") =>
    before.sqlite && after.sqlite ? per(after.sqlite[key] - before.sqlite[key]) : Number.NaN;
  const bySql: Record<string, number> = {};
  for (const [sql, count] of Object.entries(after.sqlite?.bySql ?? {})) {
    const runs = count - (before.sqlite?.bySql[sql] ?? 0);
    if (runs > 0) bySql[sql] = Math.round(per(runs) * 100) / 100;
  }
  return {
    cpuMs: per((cpuPercent / 100) * seconds * 1000),
    statements: sqlite("writes") + sqlite("reads"),
    writes: sqlite("writes"),
    reads: sqlite("reads"),
    transactions: sqlite("transactions"),
    writtenBytes: per(after.io.writeBytes - before.io.writeBytes),
    wcharBytes: per(after.io.wchar - before.io.wchar),
    bySql,
  };
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
  // `beckon-unbounded`: the same server with its load bound off, to show what shedding buys.
  // BENCH_BASELINE_SERVER names another build of @beckon/server (its dist/index.js): it runs
  // beside this one as "beckon-baseline", for before/after figures from one run.
  const baseline = process.env.BENCH_BASELINE_SERVER;
  const variants: Array<{
    key: string;
    system: "beckon" | "ws-relay";
    label: string;
    overload?: { maxLoopDelayMs: number; maxPendingInvites: number };
    module?: string;
  }> = [
    {
      key: "beckon",
      system: "beckon" as const,
      label: systemLabels.beckon,
      overload: { maxLoopDelayMs: 50, maxPendingInvites: 1_000 },
    },
    ...(baseline
      ? [
          {
            // Without a load bound, beside `beckon-unbounded`: what each call costs, not what
            // each build sheds on a busy machine.
            key: "beckon-baseline",
            system: "beckon" as const,
            label: "Beckon (baseline build), no load bound",
            module: baseline,
            overload: { maxLoopDelayMs: 0, maxPendingInvites: 0 },
          },
        ]
      : []),
    {
      key: "beckon-unbounded",
      system: "beckon" as const,
      label: "Beckon, no load bound",
      overload: { maxLoopDelayMs: 0, maxPendingInvites: 0 },
    },
    { key: "ws-relay", system: "ws-relay" as const, label: systemLabels["ws-relay"] },
  ];
  for (const variant of variants) {
    if (!selected(variant.key)) continue;
    const { system } = variant;
    const server = await startServer(system, workDir, {
      ...(variant.overload ? { overload: variant.overload } : {}),
      ...(variant.module ? { module: variant.module } : {}),
    });
    const { child: load } = await BenchChild.start("workload load", workloadScript);
    try {
      const connected = await load.call<{ users: number; devices: number }>(
        "connect",
        { target: server.target, prefix: "w", pairs: workload.users / 2, concurrency: 50 },
        600_000,
      );
      const { label } = variant;
      log(`  ${label}: ${connected.users} users, ${connected.devices} devices logged in`);
      for (const rate of workload.rates) {
        await server.child.call<LoopDelayReport>("loopDelay");
        const phase = load.call<WorkloadResult>(
          "run",
          { rate, warmupMs: workload.warmupMs, durationMs: workload.durationMs },
          120_000,
        );
        await sleep(workload.warmupMs);
        const first = await tally(server, system);
        const meter = new CpuMeter([server.child.pid, load.pid]);
        await sleep(workload.durationMs);
        const [serverCpu, loadCpu] = meter.read();
        const last = await tally(server, system);
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
          refused: result.refused,
          firstError: result.firstError,
          serverCpuPercent: serverCpu ?? Number.NaN,
          loadCpuPercent: loadCpu ?? Number.NaN,
          serverLoopDelayMaxMs: delay.maxMs,
          serverRssMiB: memory.rss / 2 ** 20,
          perCall: costPerCall(first, last, serverCpu ?? Number.NaN, seconds, result.completed),
        };
        rows.push(row);
        const cost = row.perCall;
        log(
          `  ${label} @ ${rate}/s: ${row.completedPerSecond.toFixed(0)} calls/s, ring p50 ${row.ringMs.p50.toFixed(2)} p99 ${row.ringMs.p99.toFixed(2)} ms, refused ${row.refused}, server CPU ${row.serverCpuPercent.toFixed(0)}% (${cost.cpuMs.toFixed(2)} ms/call)` +
            (system === "beckon"
              ? `; per call: ${cost.statements.toFixed(1)} statements (${cost.writes.toFixed(1)} writes), ${cost.transactions.toFixed(2)} transactions, ${(cost.writtenBytes / 1024).toFixed(1)} KiB written`
              : ""),
        );
      }
    } finally {
      await load.call("close", {}, 60_000).catch(() => undefined);
      await stopAll([load, server.child]);
    }
  }
  return rows;
}

export interface SoakSample {
  atSeconds: number;
  rssMiB: number;
  heapMiB: number;
}

export interface SoakResult {
  rate: number;
  seconds: number;
  completedPerSecond: number;
  callMs: Summary;
  errors: number;
  samples: SoakSample[];
}

/** Beckon alone at a steady rate for a long time, its memory sampled after full collections. */
export async function runSoak(
  config: BenchConfig,
  workDir: string,
  log: (line: string) => void,
): Promise<SoakResult> {
  const { soak, workload } = config;
  const server = await startServer("beckon", workDir);
  const { child: load } = await BenchChild.start("soak load", workloadScript);
  try {
    await load.call(
      "connect",
      { target: server.target, prefix: "s", pairs: workload.users / 2, concurrency: 50 },
      600_000,
    );
    const samples: SoakSample[] = [];
    const sample = async (atSeconds: number) => {
      const memory = await server.child.call<{ rss: number; heapUsed: number }>("memory");
      samples.push({ atSeconds, rssMiB: memory.rss / 2 ** 20, heapMiB: memory.heapUsed / 2 ** 20 });
    };
    const phase = load.call<WorkloadResult>(
      "run",
      { rate: soak.rate, warmupMs: 0, durationMs: soak.durationMs },
      soak.durationMs + 120_000,
    );
    const started = performance.now();
    for (let at = 0; at < soak.durationMs; at += soak.sampleEveryMs) {
      await sleep(started + at - performance.now());
      await sample(Math.round(at / 1000));
      log(
        `  soak @ ${soak.rate}/s, ${Math.round(at / 1000)} s: RSS ${samples.at(-1)?.rssMiB.toFixed(0)} MiB`,
      );
    }
    const result = await phase;
    await sample(Math.round(soak.durationMs / 1000));
    return {
      rate: soak.rate,
      seconds: soak.durationMs / 1000,
      completedPerSecond: result.completed / (soak.durationMs / 1000),
      callMs: summarize(result.callMs),
      errors: result.errors + result.unfinished,
      samples,
    };
  } finally {
    await load.call("close", {}, 60_000).catch(() => undefined);
    await stopAll([load, server.child]);
  }
}
