// Scenarios 4 and 5: a Beckon node restarts on a SQLite file holding N pending invitations whose
// callers are all offline. We time start -> serving, follow the start-up sweep (caller-lost
// handling for every started call), measure idle CPU while the deadlines wait, then let them
// fire and check that each fired once, and how late.
import { join } from "node:path";
import { BeckonClient, CallState, CallUserState } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import Database from "better-sqlite3";
import { BenchChild, stopAll } from "../bench-child.js";
import type { BenchConfig, TimerRun } from "../bench-config.js";
import type { TimeoutReport } from "../load/device-load.js";
import { CpuMeter, cpuSeconds, rssBytes } from "../proc-stats.js";
import { prepareStore } from "../seed-store.js";
import type { LoopDelayReport, MemoryReport } from "../servers/server-probes.js";
import {
  deviceLoadScript,
  type RunningServer,
  sleep,
  startServer,
  systemLabels,
} from "../servers-under-test.js";
import { type Summary, summarize } from "../stats.js";

/** Long enough that the deadlines, not the restart's caller-lost timers, end every call. */
const CALLER_GRACE_MS = 60 * 60 * 1000;
const UNCAPPED_MS = 600_000;
/** Past the default 30-day retention. */
const EXPIRED_AGO_MS = 40 * 86_400_000;

export interface StartupFigures {
  invitations: number;
  /** Ended calls past the retention time, purged at start. */
  expiredCalls: number;
  /** Process start -> listening (Node boot, modules, store opened, timers re-armed). */
  listeningMs: number;
  /** Fork -> a fresh device's login and query answered; null if not within the cap. */
  servingMs: number | null;
  /** Fork -> every started call has its caller-lost timer (the sweep is done); null if not. */
  sweepDoneMs: number | null;
  /** Calls the sweep had handled when it finished or the cap was reached. */
  swept: number;
  /** Sweep speed, calls per second, from listening to done (or to the cap). */
  sweepPerSecond: number;
  /** Server CPU seconds from fork until serving (or the cap). */
  cpuSeconds: number;
  rssBytes: number;
  /** Heap after a full collection, once serving; null if it never served. */
  heapBytes: number | null;
  /** Longest stretch the event loop could not run anything (accept a socket, fire a timer). */
  loopBlockedMaxMs: number | null;
}

export interface TimerFigures {
  observers: number;
  spreadMs: number;
  /** Server CPU while the deadlines waited and nothing else happened (observers' pings aside). */
  idleCpuPercent: number;
  idleWindowMs: number;
  /** Server CPU while the deadlines fired. */
  firingCpuPercent: number;
  /** Longest event-loop hold-up while waiting / while firing. */
  idleLoopDelayMaxMs: number;
  firingLoopDelayMaxMs: number;
  /** Call end time minus deadline, from the database, for every call. */
  serverLatenessMs: Summary;
  /** The same per second of the deadline window (deadline - first deadline), to see stalls. */
  serverLatenessBySecond: Array<{ second: number; count: number; p50: number; max: number }>;
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
  /** When, after the last deadline, the database had no deadline timer left (checked from 1 s). */
  settledAfterLastDeadlineMs: number;
}

export interface TimerRunResult {
  key: string;
  label: string;
  invitations: number;
  expiredCalls: number;
  seedMs: number;
  recovery: StartupFigures;
  timers: TimerFigures | null;
}

export interface TimerRecoveryResults {
  emptyStart: StartupFigures;
  runs: TimerRunResult[];
}

async function timeToServing(server: RunningServer, forkedAt: number): Promise<number> {
  const userID = `probe${Math.floor(Math.random() * 1e9)}`;
  const token = await signToken({ secret: server.target.secret ?? "", userID, ttlSeconds: 3600 });
  const client = new BeckonClient({ url: server.target.url, requestTimeoutMs: UNCAPPED_MS });
  try {
    await client.login(userID, { token });
    await client.queryCallInvitationList({ count: 1, nextFlag: 0 });
    return performance.now() - forkedAt;
  } finally {
    await client.destroy();
  }
}

/** Polls the database until every started call has its caller-lost timer, or `until`. */
async function followSweep(
  store: string,
  expected: number,
  until: Promise<unknown>,
): Promise<{ doneAt: number | null; swept: number }> {
  const db = new Database(store, { readonly: true, fileMustExist: true });
  const count = db.prepare<[], { n: number }>(
    // A call's timers are a JSON array in its row.
    `SELECT count(*) AS n FROM calls WHERE state = ${CallState.Started}
       AND timers LIKE '%"callerLost"%'`,
  );
  let stopped = false;
  void until.finally(() => {
    stopped = true;
  });
  try {
    for (;;) {
      const swept = count.get()?.n ?? 0;
      if (swept >= expected) return { doneAt: performance.now(), swept };
      if (stopped) return { doneAt: null, swept };
      await sleep(100);
    }
  } finally {
    db.close();
  }
}

async function startAndServe(
  workDir: string,
  store: string,
  invitations: number,
  expiredCalls: number,
  capMs: number,
): Promise<{ server: RunningServer; figures: StartupFigures }> {
  const server = await startServer("beckon", workDir, { store, callerGraceMs: CALLER_GRACE_MS });
  const { forkedAt, pid } = server.child;
  const serving = timeToServing(server, forkedAt).then(
    (ms) => ({ ms, cpu: cpuSeconds(pid) }),
    () => null,
  );
  const cap = sleep(capMs - (performance.now() - forkedAt)).then(() => null);
  const served = await Promise.race([serving, cap]);
  // Once serving, the sweep may still be running (if it yields to the event loop): follow it
  // up to the cap. If the cap was hit first, read where it stands now.
  const sweep =
    invitations > 0
      ? await followSweep(
          store,
          invitations,
          served ? sleep(capMs - (performance.now() - forkedAt)) : Promise.resolve(),
        )
      : { doneAt: performance.now(), swept: 0 };
  const listenedAt = forkedAt + server.listeningMs;
  const sweepEnd = sweep.doneAt ?? performance.now();
  const delay = served ? await server.child.call<LoopDelayReport>("loopDelay") : null;
  const memory = served ? await server.child.call<MemoryReport>("memory") : null;
  return {
    server,
    figures: {
      invitations,
      expiredCalls,
      listeningMs: server.listeningMs,
      servingMs: served?.ms ?? null,
      sweepDoneMs: sweep.doneAt === null ? null : sweep.doneAt - forkedAt,
      swept: sweep.swept,
      sweepPerSecond: sweep.swept / (Math.max(1, sweepEnd - listenedAt) / 1000),
      cpuSeconds: served?.cpu ?? cpuSeconds(pid),
      rssBytes: rssBytes(pid),
      heapBytes: memory?.heapUsed ?? null,
      loopBlockedMaxMs: delay?.maxMs ?? null,
    },
  };
}

interface StoredCall {
  state: number;
  endTime: number;
  members: Array<{ userID: string; state: number; deadline: number }>;
}

/** Lets the seeded deadlines fire and checks the outcome. The server is stopped on return. */
async function watchDeadlines(
  run: TimerRun,
  server: RunningServer,
  store: string,
  seeded: Array<{ invitee: string; deadline: number }>,
  log: (line: string) => void,
): Promise<TimerFigures> {
  const firstDeadline = seeded[0]?.deadline ?? Date.now();
  const lastDeadline = seeded.at(-1)?.deadline ?? firstDeadline;
  const pid = server.child.pid;
  let watcher: BenchChild | undefined;
  try {
    // Observers: invitees spread over the deadline window log in and wait for their timeouts.
    const step = Math.max(1, Math.floor(seeded.length / Math.max(1, run.observers)));
    const watched = seeded.filter((_, i) => i % step === 0).slice(0, run.observers);
    watcher = (await BenchChild.start("timeout observers", deviceLoadScript)).child;
    const target = server.target;
    const userIDs = watched.map((call) => call.invitee);
    await watcher.call("mint", { target, userIDs });
    await watcher.call("connect", { target, userIDs, concurrency: 50 });

    const loopDelay = () => server.child.call<LoopDelayReport>("loopDelay");
    await loopDelay();
    const idleFrom = performance.now();
    const idleMeter = new CpuMeter([pid]);
    await sleep(firstDeadline - 500 - Date.now());
    const [idleCpu] = idleMeter.read();
    const idleWindowMs = performance.now() - idleFrom;
    const idleDelay = await loopDelay();
    if (Date.now() > firstDeadline) log("  warning: the deadlines began before the idle window");

    const firingMeter = new CpuMeter([pid]);
    await sleep(lastDeadline + 200 - Date.now());
    const [firingCpu] = firingMeter.read();
    const firingDelay = await loopDelay();

    // The database shows every call ended once no deadline timer is left. Polled from 1 s after
    // the last deadline, so the check does not delay the timers.
    await sleep(lastDeadline + 1_000 - Date.now());
    const db = new Database(store, { readonly: true, fileMustExist: true });
    const pending = db.prepare<[], { one: number }>(
      `SELECT 1 AS one FROM calls WHERE state = ${CallState.Started}
         AND timers LIKE '%"deadline"%' LIMIT 1`,
    );
    const settleLimit = Date.now() + 300_000;
    while (pending.get() !== undefined && Date.now() < settleLimit) await sleep(100);
    const settledAfterLastDeadlineMs = Date.now() - lastDeadline;
    db.close();
    await sleep(500);
    const report = await watcher.call<TimeoutReport>("timeoutReport");
    await stopAll([watcher, server.child]);

    const after = new Database(store, { readonly: true, fileMustExist: true });
    const lateness: number[] = [];
    const bySecond = new Map<number, number[]>();
    let timedOut = 0;
    let otherStates = 0;
    let notEnded = 0;
    const rows = after.prepare<[], { data: string }>("SELECT data FROM calls").iterate();
    for (const row of rows) {
      const call = JSON.parse(row.data) as StoredCall;
      if (call.state !== CallState.Ended) notEnded += 1;
      for (const member of call.members.slice(1)) {
        if (member.state === CallUserState.Timeout) {
          timedOut += 1;
          const late = call.endTime - member.deadline;
          lateness.push(late);
          const second = Math.floor((member.deadline - firstDeadline) / 1000);
          const bucket = bySecond.get(second);
          if (bucket) bucket.push(late);
          else bySecond.set(second, [late]);
        } else otherStates += 1;
      }
    }
    const timersLeft =
      after
        .prepare<[], { n: number }>(
          "SELECT coalesce(sum(json_array_length(timers)), 0) AS n FROM calls",
        )
        .get()?.n ?? 0;
    after.close();
    return {
      observers: watched.length,
      spreadMs: run.spreadMs,
      idleCpuPercent: idleCpu ?? Number.NaN,
      idleWindowMs,
      firingCpuPercent: firingCpu ?? Number.NaN,
      idleLoopDelayMaxMs: idleDelay.maxMs,
      firingLoopDelayMaxMs: firingDelay.maxMs,
      serverLatenessMs: summarize(lateness),
      serverLatenessBySecond: [...bySecond]
        .sort((a, b) => a[0] - b[0])
        .map(([second, values]) => {
          const { count, p50, max } = summarize(values);
          return { second, count, p50, max };
        }),
      deviceLatenessMs: summarize(report.lateness),
      observedShown: report.invitations,
      observedExactlyOnce: report.exactlyOnce,
      observedDuplicated: report.duplicated,
      observedMissing: report.missing,
      inviteesTimedOut: timedOut,
      inviteesInOtherStates: otherStates,
      callsNotEnded: notEnded,
      timersLeft,
      settledAfterLastDeadlineMs,
    };
  } finally {
    await stopAll([watcher]);
  }
}

async function runOne(
  run: TimerRun,
  workDir: string,
  log: (line: string) => void,
): Promise<TimerRunResult> {
  const store = join(workDir, `pending-${run.key}.db`);
  const seedStarted = performance.now();
  const seeded = await prepareStore(store, {
    pending: {
      count: run.invitations,
      firstDeadline: Date.now() + run.leadMs,
      spreadMs: run.spreadMs,
    },
    endedCalls: run.expiredCalls,
    endedAgoMs: EXPIRED_AGO_MS,
  });
  const seedMs = performance.now() - seedStarted;
  log(
    `  seeded ${run.invitations} pending invitations and ${run.expiredCalls} expired calls in ${(seedMs / 1000).toFixed(1)} s`,
  );
  let server: RunningServer | undefined;
  try {
    const started = await startAndServe(
      workDir,
      store,
      run.invitations,
      run.expiredCalls,
      UNCAPPED_MS,
    );
    server = started.server;
    const recovery = started.figures;
    log(
      `  ${run.invitations} pending, ${run.expiredCalls} expired: serving ${recovery.servingMs === null ? "not yet" : `${(recovery.servingMs / 1000).toFixed(1)} s`}, sweep ${recovery.sweepDoneMs === null ? `at ${recovery.swept}` : `done at ${(recovery.sweepDoneMs / 1000).toFixed(1)} s`} (${recovery.sweepPerSecond.toFixed(0)} calls/s)`,
    );
    const timers =
      run.invitations > 0 && recovery.servingMs !== null
        ? await watchDeadlines(run, server, store, seeded, log)
        : null;
    if (timers) {
      log(
        `  deadlines: lateness p50 ${timers.serverLatenessMs.p50} ms, p99 ${timers.serverLatenessMs.p99} ms; idle CPU ${timers.idleCpuPercent.toFixed(1)}%`,
      );
    }
    return {
      key: run.key,
      label: systemLabels.beckon,
      invitations: run.invitations,
      expiredCalls: run.expiredCalls,
      seedMs,
      recovery,
      timers,
    };
  } finally {
    await stopAll([server?.child]);
  }
}

export async function runTimersAndRecovery(
  config: BenchConfig,
  workDir: string,
  log: (line: string) => void,
  selected: (key: string) => boolean = () => true,
): Promise<TimerRecoveryResults> {
  const empty = await startAndServe(workDir, join(workDir, "empty.db"), 0, 0, UNCAPPED_MS);
  await empty.server.child.stop();
  log(`  empty database: serving after ${empty.figures.servingMs?.toFixed(0)} ms`);
  const runs: TimerRunResult[] = [];
  for (const run of config.timers.filter((run) => selected(run.key))) {
    runs.push(await runOne(run, workDir, log));
  }
  return { emptyStart: empty.figures, runs };
}
