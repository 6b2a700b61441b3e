// How big each scenario is: the full run, and the quick one (under a minute, to keep the
// benchmark from rotting; its figures are too short-lived to quote).

export interface TimerRun {
  key: string;
  /** Pending invitations whose deadlines the run watches fire (0: a recovery-only run). */
  invitations: number;
  /** Ended calls older than the 30-day retention, which the server purges as it starts. */
  expiredCalls: number;
  /** Invitees that log in and watch their invitation time out. */
  observers: number;
  /** From seeding to the first deadline: room for start-up, sweep, logins and the idle window. */
  leadMs: number;
  /** Deadlines are spread evenly over this window. */
  spreadMs: number;
}

export interface BenchConfig {
  quick: boolean;
  /** Scenario 0: users with two devices each, heartbeating, ringing at fixed offered rates. */
  /** Beckon at a steady rate for a long time, its memory sampled. */
  soak: { rate: number; durationMs: number; sampleEveryMs: number };
  workload: {
    users: number;
    rates: number[];
    warmupMs: number;
    durationMs: number;
  };
  /** Scenario 7: the workload on one SQLite node and on 1, 2 and 3 PostgreSQL + Redis nodes. */
  cluster: {
    users: number;
    rates: number[];
    warmupMs: number;
    durationMs: number;
  };
  calls: {
    loadProcesses: number;
    /** Caller/callee pairs per load process; every user is connected and logged in. */
    pairsPerProcess: number;
    /** Offered invitations per second, over all load processes. */
    rates: number[];
    warmupMs: number;
    durationMs: number;
    /** Pairs ringing at once per load process in the throughput runs. */
    saturationPairsPerProcess: number;
    /** Ended calls stored before an extra Beckon throughput run (0: no such run). */
    historyCalls: number;
  };
  connections: {
    deviceCounts: number[];
    /** At most this many devices per load process (each process may hold 20 000 files). */
    devicesPerProcess: number;
    loginConcurrencyPerProcess: number;
    settleMs: number;
    idleWindowMs: number;
  };
  /** Scenarios 4 and 5: restarts on a store of pending invitations, one run per entry. */
  timers: TimerRun[];
  /** Scenario 7: scenario 0's load beside a dead webhook endpoint and a slow push provider. */
  integrations: {
    /** Caller/callee pairs, two devices per user, all online. */
    pairs: number;
    /** Users never online, each with one push registration. */
    offlineUsers: number;
    rate: number;
    /** Every this-many-th call also invites an offline user and ends with the caller's cancel. */
    offlineEvery: number;
    /** How long such a call rings after the callee's receipt before the caller cancels. */
    cancelAfterMs: number;
    /** The slow push receiver's answer time. */
    pushDelayMs: number;
    warmupMs: number;
    durationMs: number;
    /** Times the setups are run in turn (a, b, c, a, b, c, …): drift on a shared machine shows. */
    rounds: number;
  };
}

export const fullConfig: BenchConfig = {
  quick: false,
  soak: { rate: 1_000, durationMs: 600_000, sampleEveryMs: 60_000 },
  workload: {
    users: 2_000,
    rates: [500, 1_000, 2_000, 3_000, 4_000, 5_000],
    warmupMs: 2_000,
    durationMs: 10_000,
  },
  cluster: { users: 200, rates: [100, 200, 400], warmupMs: 2_000, durationMs: 8_000 },
  calls: {
    loadProcesses: 1,
    pairsPerProcess: 2_000,
    rates: [200, 1_000, 3_000],
    warmupMs: 1_000,
    durationMs: 10_000,
    saturationPairsPerProcess: 200,
    historyCalls: 100_000,
  },
  connections: {
    deviceCounts: [5_000, 15_000],
    devicesPerProcess: 5_000,
    loginConcurrencyPerProcess: 100,
    settleMs: 5_000,
    idleWindowMs: 10_000,
  },
  timers: [
    {
      key: "pending-10k",
      invitations: 10_000,
      expiredCalls: 0,
      observers: 1_000,
      leadMs: 30_000,
      spreadMs: 20_000,
    },
    {
      key: "pending-100k",
      invitations: 100_000,
      expiredCalls: 0,
      observers: 2_000,
      leadMs: 80_000,
      spreadMs: 60_000,
    },
    {
      key: "expired-100k",
      invitations: 0,
      expiredCalls: 100_000,
      observers: 0,
      leadMs: 0,
      spreadMs: 0,
    },
  ],
  integrations: {
    pairs: 300,
    offlineUsers: 100,
    rate: 200,
    offlineEvery: 2,
    cancelAfterMs: 500,
    pushDelayMs: 2_000,
    warmupMs: 2_000,
    durationMs: 10_000,
    rounds: 2,
  },
};

export const quickConfig: BenchConfig = {
  quick: true,
  soak: { rate: 200, durationMs: 2_000, sampleEveryMs: 1_000 },
  workload: { users: 200, rates: [300], warmupMs: 300, durationMs: 1_000 },
  cluster: { users: 100, rates: [100], warmupMs: 300, durationMs: 1_000 },
  calls: {
    loadProcesses: 1,
    pairsPerProcess: 250,
    rates: [200, 1_000],
    warmupMs: 300,
    durationMs: 1_000,
    saturationPairsPerProcess: 100,
    historyCalls: 0,
  },
  connections: {
    deviceCounts: [1_000],
    devicesPerProcess: 500,
    loginConcurrencyPerProcess: 50,
    settleMs: 300,
    idleWindowMs: 700,
  },
  timers: [
    {
      key: "pending-2k",
      invitations: 2_000,
      expiredCalls: 0,
      observers: 100,
      leadMs: 4_000,
      spreadMs: 2_000,
    },
    {
      key: "expired-2k",
      invitations: 0,
      expiredCalls: 2_000,
      observers: 0,
      leadMs: 0,
      spreadMs: 0,
    },
  ],
  integrations: {
    pairs: 40,
    offlineUsers: 10,
    rate: 100,
    offlineEvery: 2,
    cancelAfterMs: 100,
    pushDelayMs: 2_000,
    warmupMs: 300,
    durationMs: 1_000,
    rounds: 1,
  },
};
