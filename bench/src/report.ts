// The printed table of a run: each scenario with Beckon beside its baselines.
import type { CallScenarioResults } from "./scenarios/call-scenarios.js";
import type { ClusterResults } from "./scenarios/cluster.js";
import type { ConnectionRow } from "./scenarios/connections.js";
import type { IntegrationsRow } from "./scenarios/integrations.js";
import type { TimerRecoveryResults } from "./scenarios/timers-recovery.js";
import type { SoakResult, WorkloadRow } from "./scenarios/workload.js";

export interface RunResults {
  workload?: WorkloadRow[];
  soak?: SoakResult;
  calls?: CallScenarioResults;
  connections?: ConnectionRow[];
  timers?: TimerRecoveryResults;
  cluster?: ClusterResults;
  integrations?: IntegrationsRow[];
}

/** A Markdown table; the first `left` columns are text, the rest numbers (right-aligned). */
function table(headers: string[], rows: string[][], left = 2): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i < left ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `| ${widths.map((width, i) => (i < left ? `:${"-".repeat(width - 1)}` : `${"-".repeat(width - 1)}:`)).join(" | ")} |`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : "–");
const whole = (value: number) => (Number.isFinite(value) ? Math.round(value).toString() : "–");
const kib = (bytes: number) => (Number.isFinite(bytes) ? (bytes / 1024).toFixed(1) : "–");
const mib = (bytes: number) => (Number.isFinite(bytes) ? (bytes / 1024 / 1024).toFixed(0) : "–");
const pct = (value: number) => (Number.isFinite(value) ? `${Math.round(value)}%` : "–");

export function formatReport(results: RunResults): string {
  const parts: string[] = [];
  if (results.workload) {
    parts.push(
      "### 0. Realistic workload: users with 2 devices, heartbeats, invite -> receipts -> accept on one device (ms)",
      "",
      table(
        [
          "offered/s",
          "system",
          "users",
          "devices",
          "sent/s",
          "complete/s",
          "ring p50",
          "ring p99",
          "call p50",
          "call p99",
          "skipped",
          "refused",
          "errors",
          "server CPU",
          "load CPU",
          "loop delay ms",
          "server RSS MiB",
        ],
        results.workload.map((row) => [
          whole(row.offeredPerSecond),
          row.label,
          whole(row.users),
          whole(row.devices),
          whole(row.sentPerSecond),
          whole(row.completedPerSecond),
          ms(row.ringMs.p50),
          ms(row.ringMs.p99),
          ms(row.callMs.p50),
          ms(row.callMs.p99),
          whole(row.skipped),
          whole(row.refused),
          whole(row.errors),
          pct(row.serverCpuPercent),
          pct(row.loadCpuPercent),
          whole(row.serverLoopDelayMaxMs),
          whole(row.serverRssMiB),
        ]),
      ),
      "",
      "Per complete call in the same windows: server CPU, and Beckon's SQLite statements, transactions and bytes written (/proc/<pid>/io write_bytes: WAL and checkpoints).",
      "",
      table(
        [
          "offered/s",
          "system",
          "CPU ms/call",
          "× relay",
          "statements",
          "writes",
          "transactions",
          "KiB written",
        ],
        results.workload.map((row) => {
          const relay = results.workload?.find(
            (other) =>
              other.system === "ws-relay" && other.offeredPerSecond === row.offeredPerSecond,
          );
          const ratio = relay ? row.perCall.cpuMs / relay.perCall.cpuMs : Number.NaN;
          const fixed = (value: number, digits: number) =>
            Number.isFinite(value) ? value.toFixed(digits) : "–";
          return [
            whole(row.offeredPerSecond),
            row.label,
            fixed(row.perCall.cpuMs, 3),
            fixed(ratio, 1),
            fixed(row.perCall.statements, 1),
            fixed(row.perCall.writes, 1),
            fixed(row.perCall.transactions, 2),
            kib(row.perCall.writtenBytes),
          ];
        }),
      ),
      "",
    );
  }
  if (results.calls) {
    parts.push(
      "### 1. Ring latency: callInvite() sent -> callee's callInvitationReceived (ms), fixed offered rate",
      "",
      table(
        [
          "offered/s",
          "system",
          "stored calls",
          "users",
          "sent/s",
          "p50",
          "p99",
          "p99.9",
          "max",
          "skipped",
          "errors",
          "server CPU",
          "load CPU",
          "loop delay ms",
        ],
        results.calls.ring.map((row) => [
          whole(row.offeredPerSecond),
          row.label,
          row.storedCalls === null ? "" : whole(row.storedCalls),
          whole(row.users),
          whole(row.sentPerSecond),
          ms(row.latencyMs.p50),
          ms(row.latencyMs.p99),
          ms(row.latencyMs.p999),
          ms(row.latencyMs.max),
          whole(row.skipped),
          whole(row.errors + row.unfinished),
          pct(row.serverCpuPercent),
          pct(row.loadCpuPercent),
          whole(row.serverLoopDelayMaxMs),
        ]),
      ),
      "",
      "### 2. Throughput: complete calls per second at saturation (invite -> received -> answer confirmed)",
      "",
      table(
        [
          "flow",
          "system",
          "stored calls",
          "pairs",
          "calls/s",
          "call p50 ms",
          "call p99 ms",
          "errors",
          "server CPU",
          "load CPU",
          "loop delay ms",
        ],
        results.calls.throughput.map((row) => [
          row.flow,
          row.label,
          row.storedCalls === null ? "" : whole(row.storedCalls),
          whole(row.pairsRinging),
          whole(row.callsPerSecond),
          ms(row.callTimeMs.p50),
          ms(row.callTimeMs.p99),
          whole(row.errors),
          pct(row.serverCpuPercent),
          pct(row.loadCpuPercent),
          whole(row.serverLoopDelayMaxMs),
        ]),
      ),
      "",
    );
  }
  if (results.connections) {
    parts.push(
      "### 3. Connections: idle logged-in devices (Beckon) vs idle sockets (baselines)",
      "",
      table(
        [
          "devices",
          "system",
          "load procs",
          "logins/s",
          "RSS KiB/device",
          "heap KiB/device",
          "server RSS MiB",
          "idle CPU",
          "failures",
        ],
        results.connections.map((row) => [
          whole(row.devices),
          row.label,
          whole(row.loadProcesses),
          whole(row.loginsPerSecond),
          kib(row.rssPerDeviceBytes),
          kib(row.heapPerDeviceBytes),
          mib(row.rssAfterBytes),
          pct(row.idleCpuPercent),
          whole(row.failures),
        ]),
      ),
      "",
    );
  }
  if (results.timers) {
    const { runs, emptyStart } = results.timers;
    const watched = runs.filter((run) => run.timers !== null);
    parts.push(
      "### 4. Timers: pending invitations with spread deadlines; lateness = fired - deadline (ms)",
      "",
      table(
        [
          "pending",
          "system, measured at",
          "spread s",
          "p50",
          "p99",
          "max",
          "idle CPU",
          "firing CPU",
          "loop delay ms",
          "fired once",
          "twice+",
          "never",
        ],
        watched.flatMap((run) => {
          const t = run.timers;
          if (!t) return [];
          return [
            [
              whole(run.invitations),
              `${run.label}, server (call endTime)`,
              whole(t.spreadMs / 1000),
              ms(t.serverLatenessMs.p50),
              ms(t.serverLatenessMs.p99),
              ms(t.serverLatenessMs.max),
              pct(t.idleCpuPercent),
              pct(t.firingCpuPercent),
              whole(t.firingLoopDelayMaxMs),
              whole(t.inviteesTimedOut),
              "",
              whole(t.inviteesInOtherStates + t.callsNotEnded + t.timersLeft),
            ],
            [
              whole(t.observers),
              `${run.label}, device (event arrival)`,
              whole(t.spreadMs / 1000),
              ms(t.deviceLatenessMs.p50),
              ms(t.deviceLatenessMs.p99),
              ms(t.deviceLatenessMs.max),
              "",
              "",
              "",
              whole(t.observedExactlyOnce),
              whole(t.observedDuplicated),
              whole(t.observedMissing + (t.observers - t.observedShown)),
            ],
          ];
        }),
      ),
      "",
      "### 5. Recovery: process start -> serving (a new device's login + query answered)",
      "",
      table(
        [
          "system",
          "pending",
          "expired",
          "listening ms",
          "serving ms",
          "sweep done ms",
          "swept",
          "sweep calls/s",
          "loop blocked ms",
          "CPU s",
          "RSS MiB",
          "heap MiB",
        ],
        [{ label: "Beckon, empty database", recovery: emptyStart }, ...runs].map((run) => {
          const r = run.recovery;
          return [
            run.label,
            whole(r.invitations),
            whole(r.expiredCalls),
            whole(r.listeningMs),
            r.servingMs === null ? "not yet (cap)" : whole(r.servingMs),
            r.sweepDoneMs === null ? "not yet (cap)" : whole(r.sweepDoneMs),
            whole(r.swept),
            r.invitations === 0 ? "" : whole(r.sweepPerSecond),
            r.loopBlockedMaxMs === null ? "–" : whole(r.loopBlockedMaxMs),
            r.cpuSeconds.toFixed(1),
            mib(r.rssBytes),
            r.heapBytes === null ? "–" : mib(r.heapBytes),
          ];
        }),
        1,
      ),
      "",
    );
  }
  if (results.soak) {
    const { soak } = results;
    parts.push(
      "",
      `### 6. Soak: Beckon at ${soak.rate} offered calls/s for ${soak.seconds} s (${whole(soak.completedPerSecond)} complete/s, call p50 ${ms(soak.callMs.p50)} ms, p99 ${ms(soak.callMs.p99)} ms, ${soak.errors} errors); server memory after full GCs`,
      "",
      table(
        ["at s", "RSS MiB", "heap MiB"],
        soak.samples.map((sample) => [
          whole(sample.atSeconds),
          whole(sample.rssMiB),
          whole(sample.heapMiB),
        ]),
        1,
      ),
    );
  }
  if (results.cluster) {
    const { cluster } = results;
    parts.push(
      "",
      "### 8. Cluster: the workload with each user's 2 devices on different nodes; CPU in % of one core (ms)",
      "",
      cluster.skipped ? `Cluster setups skipped: ${cluster.skipped}\n` : "",
      table(
        [
          "offered/s",
          "setup",
          "devices",
          "complete/s",
          "ring p50",
          "ring p99",
          "call p50",
          "call p99",
          "skipped",
          "errors",
          "nodes CPU",
          "PostgreSQL CPU",
          "Redis CPU",
          "load CPU",
          "loop delay ms",
        ],
        cluster.rows.map((row) => [
          whole(row.offeredPerSecond),
          row.setup,
          whole(row.devices),
          whole(row.completedPerSecond),
          ms(row.ringMs.p50),
          ms(row.ringMs.p99),
          ms(row.callMs.p50),
          ms(row.callMs.p99),
          whole(row.skipped),
          whole(row.errors),
          pct(row.nodesCpuPercent),
          pct(row.postgresCpuPercent),
          pct(row.redisCpuPercent),
          pct(row.loadCpuPercent),
          whole(row.loopDelayMaxMs),
        ]),
      ),
    );
    const counted = cluster.rows.filter((row) => row.perCall);
    if (counted.length > 0) {
      const sqlite = (rate: number) =>
        cluster.rows.find((row) => !row.perCall && row.offeredPerSecond === rate);
      parts.push(
        "",
        "Per call completed in the window (PostgreSQL transactions from pg_stat_database, Redis commands and CPU from INFO; CPU in ms; ×SQLite: against the SQLite node at the same rate)",
        "",
        table(
          [
            "offered/s",
            "setup",
            "PG transactions",
            "rolled back",
            "Redis commands",
            "Redis CPU",
            "PostgreSQL CPU",
            "nodes CPU",
            "nodes CPU ×SQLite",
            "ring p99 ×SQLite",
            "top Redis commands",
          ],
          counted.map((row) => {
            const per = row.perCall as NonNullable<typeof row.perCall>;
            const base = sqlite(row.offeredPerSecond);
            const baseCpu = base ? base.nodesCpuMsPerCall : Number.NaN;
            return [
              whole(row.offeredPerSecond),
              row.setup,
              per.postgresTransactions.toFixed(2),
              per.postgresRollbacks.toFixed(2),
              per.redisCommands.toFixed(1),
              per.redisCpuMs.toFixed(3),
              per.postgresCpuMs.toFixed(2),
              per.nodesCpuMs.toFixed(2),
              (per.nodesCpuMs / baseCpu).toFixed(2),
              base ? (row.ringMs.p99 / base.ringMs.p99).toFixed(2) : "–",
              per.redisTop
                .slice(0, 6)
                .map(([name, n]) => `${name} ${n.toFixed(1)}`)
                .join(", "),
            ];
          }),
        ),
      );
    }
  }
  if (results.integrations) {
    const rows = results.integrations;
    const first = rows[0];
    const count = (value: number | null) => (value === null ? "" : whole(value));
    parts.push(
      "",
      `### 7. Integrations off the ring path: ring = invite sent -> the online callee's first device rings (ms), ${first ? whole(first.offeredPerSecond) : "–"} offered calls/s`,
      "",
      table(
        [
          "setup",
          "round",
          "sent",
          "to offline",
          "complete",
          "ring p50",
          "ring p95",
          "ring p99",
          "ring max",
          "call p50",
          "errors",
          "server CPU",
          "loop delay ms",
          "hook deliveries",
          "hook attempts",
          "conns held",
          "pushes",
          "push queued",
          "requests received",
        ],
        rows.map((row) => [
          row.label,
          whole(row.round),
          whole(row.sent),
          whole(row.offlineCalls),
          whole(row.completed),
          ms(row.ringMs.p50),
          ms(row.ringMs.p95),
          ms(row.ringMs.p99),
          ms(row.ringMs.max),
          ms(row.callMs.p50),
          whole(row.errors),
          pct(row.serverCpuPercent),
          whole(row.serverLoopDelayMaxMs),
          whole(row.webhookDeliveries),
          whole(row.webhookAttempts),
          count(row.endpointConnections),
          whole(row.pushSends),
          whole(row.pushQueued),
          count(row.pushRequests),
        ]),
        1,
      ),
    );
  }
  return parts.join("\n");
}
