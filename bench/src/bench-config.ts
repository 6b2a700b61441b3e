// How big each scenario is: the full run, and the quick one (under a minute, to keep the
// benchmark from rotting; its figures are too short-lived to quote).

export interface BenchConfig {
  quick: boolean;
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
  };
  connections: {
    deviceCounts: number[];
    /** At most this many devices per load process (each process may hold 20 000 files). */
    devicesPerProcess: number;
    loginConcurrencyPerProcess: number;
    settleMs: number;
    idleWindowMs: number;
  };
  timers: {
    invitations: number;
    /** Invitees that log in and watch their invitation time out. */
    observers: number;
    /** From seeding to the first deadline: room for start-up, sweep, logins and the idle window. */
    leadMs: number;
    /** Deadlines are spread evenly over this window. */
    spreadMs: number;
  };
}

export const fullConfig: BenchConfig = {
  quick: false,
  calls: {
    loadProcesses: 1,
    pairsPerProcess: 2_000,
    rates: [200, 1_000, 3_000],
    warmupMs: 2_000,
    durationMs: 15_000,
    saturationPairsPerProcess: 200,
  },
  connections: {
    deviceCounts: [5_000, 15_000],
    devicesPerProcess: 5_000,
    loginConcurrencyPerProcess: 100,
    settleMs: 5_000,
    idleWindowMs: 10_000,
  },
  timers: {
    invitations: 100_000,
    observers: 2_000,
    leadMs: 120_000,
    spreadMs: 60_000,
  },
};

export const quickConfig: BenchConfig = {
  quick: true,
  calls: {
    loadProcesses: 1,
    pairsPerProcess: 250,
    rates: [200, 1_000],
    warmupMs: 300,
    durationMs: 1_500,
    saturationPairsPerProcess: 100,
  },
  connections: {
    deviceCounts: [1_000],
    devicesPerProcess: 500,
    loginConcurrencyPerProcess: 50,
    settleMs: 500,
    idleWindowMs: 1_000,
  },
  timers: {
    invitations: 5_000,
    observers: 200,
    leadMs: 9_000,
    spreadMs: 3_000,
  },
};
