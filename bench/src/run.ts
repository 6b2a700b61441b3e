// `npm run bench [-- --quick] [--only=calls,connections,timers,cluster] [--runs=key,…]
// [--rounds=N] [--rates=r,…] [--devices=n,…]`: runs the scenarios of bench/README.md against
// built code, prints the table and writes bench/results/<time>.json. `--runs` keeps only the call
// variants / timer runs / connection systems with those keys; `--rounds` sets how often the
// integrations scenario runs its setups in turn; `--rates` replaces the workload and cluster
// scenarios' offered rates, `--devices` the connections scenario's device counts.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type BenchConfig, fullConfig, quickConfig } from "./bench-config.js";
import { formatReport, type RunResults } from "./report.js";
import { runCallScenarios } from "./scenarios/call-scenarios.js";
import { runCluster } from "./scenarios/cluster.js";
import { runConnections } from "./scenarios/connections.js";
import { runIntegrations } from "./scenarios/integrations.js";
import { runTimersAndRecovery } from "./scenarios/timers-recovery.js";
import { runSoak, runWorkload } from "./scenarios/workload.js";

const SCENARIOS = [
  "workload",
  "calls",
  "connections",
  "timers",
  "soak",
  "integrations",
  "cluster",
] as const;
type ScenarioName = (typeof SCENARIOS)[number];

/** The code under test: BENCH_COMMIT if set (a copy outside git), else the work tree's HEAD. */
function gitCommit(): string | null {
  if (process.env.BENCH_COMMIT) return process.env.BENCH_COMMIT;
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "packages"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    return dirty ? `${commit} (packages/ modified)` : commit;
  } catch {
    return null;
  }
}

/** `--name=a,b,…` as positive whole numbers, or undefined when the option is absent. */
function wholeNumbers(name: string, value: string | undefined): number[] | undefined {
  const numbers = value?.split(",").map(Number);
  if (numbers?.some((n) => !(Number.isInteger(n) && n > 0))) {
    throw new Error(`--${name} takes positive whole numbers, not "${value}"`);
  }
  return numbers;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      runs: { type: "string" },
      rounds: { type: "string" },
      rates: { type: "string" },
      devices: { type: "string" },
    },
  });
  const base: BenchConfig = values.quick ? quickConfig : fullConfig;
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  if (rounds !== undefined && !(Number.isInteger(rounds) && rounds > 0)) {
    throw new Error(`--rounds takes a positive whole number, not "${values.rounds}"`);
  }
  const rates = wholeNumbers("rates", values.rates);
  const deviceCounts = wholeNumbers("devices", values.devices);
  const config: BenchConfig = {
    ...base,
    ...(rounds === undefined ? {} : { integrations: { ...base.integrations, rounds } }),
    ...(rates === undefined
      ? {}
      : { workload: { ...base.workload, rates }, cluster: { ...base.cluster, rates } }),
    ...(deviceCounts === undefined ? {} : { connections: { ...base.connections, deviceCounts } }),
  };
  const only = (values.only?.split(",") ?? [...SCENARIOS]) as ScenarioName[];
  for (const name of only) {
    if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario "${name}"`);
  }
  const runs = values.runs?.split(",");
  const selected = (key: string) => runs === undefined || runs.includes(key);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const startedAt = new Date();
  const clock = performance.now();
  const workDir = mkdtempSync(join(tmpdir(), "beckon-bench-"));
  // On Ctrl-C the temporary stores go too; the children are killed on exit (bench-child.ts).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      rmSync(workDir, { recursive: true, force: true });
      process.exit(130);
    });
  }
  const results: RunResults = {};
  log(`Beckon bench (${config.quick ? "quick" : "full"}), ${availableParallelism()} cores`);
  try {
    if (only.includes("workload")) {
      log("0. realistic workload");
      results.workload = await runWorkload(config, workDir, log, selected);
    }
    if (only.includes("calls")) {
      log("1-2. ring latency and throughput");
      results.calls = await runCallScenarios(config, workDir, log, selected);
    }
    if (only.includes("connections")) {
      log("3. connections");
      results.connections = await runConnections(config, workDir, log, selected);
    }
    if (only.includes("timers")) {
      log("4-5. timers and recovery");
      results.timers = await runTimersAndRecovery(config, workDir, log, selected);
    }
    if (only.includes("soak")) {
      log("6. soak");
      results.soak = await runSoak(config, workDir, log);
    }
    if (only.includes("integrations")) {
      log("7. integrations off the ring path");
      results.integrations = await runIntegrations(config, workDir, log, selected);
    }
    if (only.includes("cluster")) {
      log("8. cluster");
      results.cluster = await runCluster(config, workDir, log, selected);
    }
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  const durationMs = performance.now() - clock;

  process.stdout.write(`\n${formatReport(results)}\n`);
  const meta = {
    date: startedAt.toISOString(),
    mode: config.quick ? "quick" : "full",
    durationSeconds: Math.round(durationMs / 1000),
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    commit: gitCommit(),
  };
  const resultsDir = fileURLToPath(new URL("../results/", import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify({ meta, config, results }, null, 2)}\n`);
  process.stdout.write(
    `${meta.mode} run on ${meta.cores} cores, ${meta.memoryGiB} GiB, Node ${meta.node}, took ${meta.durationSeconds} s; JSON: ${file}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
