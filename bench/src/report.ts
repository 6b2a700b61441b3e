// The printed table of a run: each scenario with Beckon beside its baselines.
import type { CallScenarioResults } from "./scenarios/call-scenarios.js";
import type { ConnectionRow } from "./scenarios/connections.js";
import type { TimerRecoveryResults } from "./scenarios/timers-recovery.js";

export interface RunResults {
  calls?: CallScenarioResults;
  connections?: ConnectionRow[];
  timers?: TimerRecoveryResults;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((width, i) => (i < 2 ? `:${"-".repeat(width + 1)}` : `${"-".repeat(width + 1)}:`)).join("|")}|`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(value < 10 ? 2 : 1) : "–");
const whole = (value: number) => (Number.isFinite(value) ? Math.round(value).toString() : "–");
const kib = (bytes: number) => (Number.isFinite(bytes) ? (bytes / 1024).toFixed(1) : "–");
const mib = (bytes: number) => (Number.isFinite(bytes) ? (bytes / 1024 / 1024).toFixed(0) : "–");
const pct = (value: number) => (Number.isFinite(value) ? `${Math.round(value)}%` : "–");

export function formatReport(results: RunResults): string {
  const parts: string[] = [];
  if (results.calls) {
    parts.push(
      "1. Ring latency: callInvite() sent -> callee's callInvitationReceived (ms), fixed offered rate",
      table(
        [
          "offered/s",
          "system",
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
        ],
        results.calls.ring.map((row) => [
          whole(row.offeredPerSecond),
          row.label,
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
        ]),
      ),
      "",
      "2. Throughput: complete calls per second at saturation (invite -> received -> answer confirmed)",
      table(
        [
          "flow",
          "system",
          "pairs",
          "calls/s",
          "call p50 ms",
          "call p99 ms",
          "errors",
          "server CPU",
          "load CPU",
        ],
        results.calls.throughput.map((row) => [
          row.flow,
          row.label,
          whole(row.pairsRinging),
          whole(row.callsPerSecond),
          ms(row.callTimeMs.p50),
          ms(row.callTimeMs.p99),
          whole(row.errors),
          pct(row.serverCpuPercent),
          pct(row.loadCpuPercent),
        ]),
      ),
      "",
    );
  }
  if (results.connections) {
    parts.push(
      "3. Connections: idle logged-in devices (Beckon) vs idle sockets (baselines)",
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
    const { timers, recovery, emptyStart } = results.timers;
    parts.push(
      "4. Timers: pending invitations with spread deadlines (Beckon; lateness = fired - deadline, ms)",
      table(
        [
          "pending",
          "measured at",
          "spread s",
          "p50",
          "p99",
          "max",
          "idle CPU",
          "firing CPU",
          "fired once",
          "twice+",
          "never",
        ],
        [
          [
            whole(timers.invitations),
            "server (call endTime)",
            whole(timers.spreadMs / 1000),
            ms(timers.serverLatenessMs.p50),
            ms(timers.serverLatenessMs.p99),
            ms(timers.serverLatenessMs.max),
            pct(timers.idleCpuPercent),
            pct(timers.firingCpuPercent),
            whole(timers.inviteesTimedOut),
            "–",
            whole(timers.inviteesInOtherStates + timers.callsNotEnded),
          ],
          [
            whole(timers.observers),
            "device (event arrival)",
            whole(timers.spreadMs / 1000),
            ms(timers.deviceLatenessMs.p50),
            ms(timers.deviceLatenessMs.p99),
            ms(timers.deviceLatenessMs.max),
            "",
            "",
            whole(timers.observedExactlyOnce),
            whole(timers.observedDuplicated),
            whole(timers.observedMissing + (timers.observers - timers.observedShown)),
          ],
        ],
      ),
      "",
      "5. Recovery: process start -> serving (a new device's login + query answered), ms",
      table(
        [
          "pending",
          "database",
          "listening",
          "serving",
          "sweep done",
          "CPU s to serving",
          "RSS MiB",
          "heap MiB",
        ],
        [emptyStart, recovery].map((row) => [
          whole(row.invitations),
          row.invitations === 0 ? "empty" : "seeded",
          whole(row.listeningMs),
          whole(row.servingMs),
          row.sweepDoneMs === null ? "never" : whole(row.sweepDoneMs),
          row.cpuSecondsToServing.toFixed(1),
          mib(row.rssAfterSweepBytes),
          mib(row.heapAfterSweepBytes),
        ]),
      ),
      `Timers left after the run: ${timers.timersLeft}; calls not ended: ${timers.callsNotEnded}; seeding took ${(results.timers.seedMs / 1000).toFixed(1)} s.`,
      "",
    );
  }
  return parts.join("\n");
}
