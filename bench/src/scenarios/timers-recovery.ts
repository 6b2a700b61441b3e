// Scenarios 4 and 5 on one database: a Beckon node restarts on a SQLite file holding N pending
// invitations whose callers are all offline. We time start -> serving, watch the start-up
// sweep (caller-lost handling for every started call), measure idle CPU while the deadlines
// wait, then let them fire and check each fired once and on time.
import { join } from "node:path";
import { BeckonClient, CallState, CallUserState } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import Database from "better-sqlite3";
import { BenchChild, stopAll } from "../bench-child.js";
import type { BenchConfig } from "../bench-config.js";
import type { TimeoutReport } from "../load/device-load.js";
import { CpuMeter, cpuSeconds, rssBytes } from "../proc-stats.js";
import type { MemoryReport } from "../servers/memory-report.js";
import { deviceLoadScript, type RunningServer, sleep, startServer } from "../servers-under-test.js";
import { type Summary, summarize } from "../stats.js";
import { seedPendingCalls } from "./seed-pending-calls.js";

/** Long enough that the deadlines, not the restart's caller-lost timers, end every call. */
const CALLER_GRACE_MS = 60 * 60 * 1000;

export interface StartupFigures {
  invitations: number;
  /** Process start -> listening (Node boot, modules, store opened, timers re-armed). */
  listeningMs: number;
  /** Fork -> a fresh device's login and query answered. */
  servingMs: number;
  /** Fork -> every started call has its caller-lost timer (the sweep is done), or null. */
  sweepDoneMs: number | null;
  /** Server CPU seconds from fork until serving. */
  cpuSecondsToServing: number;
  rssAfterSweepBytes: number;
  heapAfterSweepBytes: number;
}

export interface TimerFigures {
  invitations: number;
  observers: number;
  spreadMs: number;
  /** Server CPU while the N deadlines waited and nothing else happened (observers' pings aside). */
  idleCpuPercent: number;
  idleWindowMs: number;
  /** Server CPU while the deadlines fired. */
  firingCpuPercent: number;
  /** Call end time minus deadline, from the database, for every call. */
  serverLatenessMs: Summary;
  /** callInvitationTimeout arrival minus deadline, at the observing devices. */
  deviceLatenessMs: Summary;
  /** Observers that were shown their invitation at login. */
  observedShown: number;
  observedExactlyOnce: number;
  observedDuplicated: number;
  observedMissing: number;
  /** From the database after the run. */
  inviteesTimedOut: number;
  inviteesInOtherStates: number;
  callsNotEnded: number;
  timersLeft: number;
  /** Longest the test waited after the last deadline for the database to show every call ended. */
  settleAfterLastDeadlineMs: number;
}

export interface TimerRecoveryResults {
  seedMs: number;
  emptyStart: StartupFigures;
  recovery: StartupFigures;
  timers: TimerFigures;
}

async function timeToServing(server: RunningServer, forkedAt: number): Promise<number> {
  const userID = `probe${Math.floor(Math.random() * 1e9)}`;
  const token = await signToken({ secret: server.target.secret ?? "", userID, ttlSeconds: 3600 });
  const client = new BeckonClient({ url: server.target.url, requestTimeoutMs: 600_000 });
  try {
    await client.login(userID, { token });
    await client.queryCallInvitationList({ count: 1, nextFlag: 0 });
    return performance.now() - forkedAt;
  } finally {
    await client.destroy();
  }
}

/** Fork -> when the database shows `expected` caller-lost timers, polled every 100 ms. */
async function waitForSweep(
  db: Database.Database,
  expected: number,
  forkedAt: number,
  limitMs: number,
): Promise<number | null> {
  const count = db.prepare<[], { n: number }>(
    "SELECT count(*) AS n FROM timers WHERE kind = 'callerLost'",
  );
  const giveUpAt = performance.now() + limitMs;
  while (performance.now() < giveUpAt) {
    if ((count.get()?.n ?? 0) >= expected) return performance.now() - forkedAt;
    await sleep(100);
  }
  return null;
}

async function startAndServe(
  workDir: string,
  store: string,
  invitations: number,
): Promise<{ server: RunningServer; figures: StartupFigures }> {
  const server = await startServer("beckon", workDir, { store, callerGraceMs: CALLER_GRACE_MS });
  const { forkedAt, pid } = server.child;
  const db = new Database(store, { readonly: true, fileMustExist: true });
  try {
    const [servingMs, sweepDoneMs] = await Promise.all([
      timeToServing(server, forkedAt).then((ms) => ({ ms, cpu: cpuSeconds(pid) })),
      invitations > 0 ? waitForSweep(db, invitations, forkedAt, 600_000) : Promise.resolve(0),
    ]);
    const memory = await server.child.call<MemoryReport>("memory");
    return {
      server,
      figures: {
        invitations,
        listeningMs: server.listeningMs,
        servingMs: servingMs.ms,
        sweepDoneMs,
        cpuSecondsToServing: servingMs.cpu,
        rssAfterSweepBytes: rssBytes(pid),
        heapAfterSweepBytes: memory.heapUsed,
      },
    };
  } finally {
    db.close();
  }
}

interface StoredCallRow {
  data: string;
}

interface StoredCall {
  state: number;
  endTime: number;
  members: Array<{ userID: string; state: number; deadline: number }>;
}

export async function runTimersAndRecovery(
  config: BenchConfig,
  workDir: string,
  log: (line: string) => void,
): Promise<TimerRecoveryResults> {
  const { invitations, observers, leadMs, spreadMs } = config.timers;

  const empty = await startAndServe(workDir, join(workDir, "empty.db"), 0);
  await empty.server.child.stop();
  log(`  empty database: serving after ${empty.figures.servingMs.toFixed(0)} ms`);

  const store = join(workDir, "pending.db");
  const seedStarted = performance.now();
  const firstDeadline = Date.now() + leadMs;
  const seeded = await seedPendingCalls(store, invitations, firstDeadline, spreadMs);
  const seedMs = performance.now() - seedStarted;
  const lastDeadline = seeded.at(-1)?.deadline ?? firstDeadline;
  log(`  seeded ${invitations} pending invitations in ${(seedMs / 1000).toFixed(1)} s`);

  let server: RunningServer | undefined;
  let watcher: BenchChild | undefined;
  try {
    const started = await startAndServe(workDir, store, invitations);
    server = started.server;
    const recovery = started.figures;
    log(
      `  ${invitations} pending: listening ${recovery.listeningMs.toFixed(0)} ms, serving ${recovery.servingMs.toFixed(0)} ms, sweep done ${recovery.sweepDoneMs?.toFixed(0) ?? "never"} ms after start`,
    );
    const pid = server.child.pid;

    // Observers: invitees spread over the deadline window log in and wait for their timeouts.
    const step = Math.max(1, Math.floor(invitations / observers));
    const watched = seeded.filter((_, i) => i % step === 0).slice(0, observers);
    watcher = (await BenchChild.start("timeout observers", deviceLoadScript)).child;
    const target = server.target;
    const userIDs = watched.map((call) => call.invitee);
    await watcher.call("mint", { target, userIDs });
    await watcher.call("connect", { target, userIDs, concurrency: 50 });

    const idleFrom = performance.now();
    const idleMeter = new CpuMeter([pid]);
    await sleep(firstDeadline - 500 - Date.now());
    const [idleCpu] = idleMeter.read();
    const idleWindowMs = performance.now() - idleFrom;
    if (Date.now() > firstDeadline) log("  warning: the deadlines began before the idle window");

    const firingMeter = new CpuMeter([pid]);
    await sleep(lastDeadline + 200 - Date.now());
    const [firingCpu] = firingMeter.read();

    // Wait for the database to show every call ended (the last timers may still be running).
    const db = new Database(store, { readonly: true, fileMustExist: true });
    const stillStarted = db.prepare<[], { n: number }>(
      `SELECT count(*) AS n FROM calls WHERE state = ${CallState.Started}`,
    );
    const settleLimit = Date.now() + 120_000;
    while ((stillStarted.get()?.n ?? 0) > 0 && Date.now() < settleLimit) await sleep(100);
    const settleAfterLastDeadlineMs = Date.now() - lastDeadline;
    db.close();
    await sleep(500);

    const report = await watcher.call<TimeoutReport>("timeoutReport");
    await stopAll([watcher, server.child]);

    const after = new Database(store, { readonly: true, fileMustExist: true });
    const lateness: number[] = [];
    let timedOut = 0;
    let otherStates = 0;
    let notEnded = 0;
    for (const row of after.prepare<[], StoredCallRow>("SELECT data FROM calls").iterate()) {
      const call = JSON.parse(row.data) as StoredCall;
      if (call.state !== CallState.Ended) notEnded += 1;
      for (const member of call.members.slice(1)) {
        if (member.state === CallUserState.Timeout) {
          timedOut += 1;
          lateness.push(call.endTime - member.deadline);
        } else otherStates += 1;
      }
    }
    const timersLeft =
      after.prepare<[], { n: number }>("SELECT count(*) AS n FROM timers").get()?.n ?? 0;
    after.close();

    return {
      seedMs,
      emptyStart: empty.figures,
      recovery,
      timers: {
        invitations,
        observers: watched.length,
        spreadMs,
        idleCpuPercent: idleCpu ?? Number.NaN,
        idleWindowMs,
        firingCpuPercent: firingCpu ?? Number.NaN,
        serverLatenessMs: summarize(lateness),
        deviceLatenessMs: summarize(report.lateness),
        observedShown: report.invitations,
        observedExactlyOnce: report.exactlyOnce,
        observedDuplicated: report.duplicated,
        observedMissing: report.missing,
        inviteesTimedOut: timedOut,
        inviteesInOtherStates: otherStates,
        callsNotEnded: notEnded,
        timersLeft,
        settleAfterLastDeadlineMs,
      },
    };
  } finally {
    await stopAll([watcher, server?.child]);
  }
}
