// The console's live numbers: quantiles from histogram buckets as Prometheus computes them, and
// a cluster's view summed from its nodes' per-minute readings (a node that started later counts
// from zero; a restarted node's counters never make a window negative).
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { combineStats, LiveStats, type NodeStats, quantile } from "../src/console/live-stats.js";
import { BeckonMetrics } from "../src/metrics.js";

const MINUTE = 60_000;
const T0 = 1_800_000_000_000 - (1_800_000_000_000 % MINUTE);

describe("quantile", () => {
  const bounds = [10, 100, 1000, null];
  it("interpolates within the bucket the rank falls in", () => {
    expect(quantile(0.5, bounds, [0, 10, 10, 10])).toBe(55);
    expect(quantile(0.99, bounds, [5, 5, 10, 10])).toBeCloseTo(982);
  });
  it("answers the last finite bound past it, and null for no observations", () => {
    expect(quantile(0.99, bounds, [0, 0, 0, 4])).toBe(1000);
    expect(quantile(0.5, bounds, [0, 0, 0, 0])).toBeNull();
  });
});

function node(
  nodeID: string,
  minutes: NodeStats["minutes"],
  current: NodeStats["current"],
): NodeStats {
  return {
    nodeID,
    at: current.at,
    devicesOnline: 2,
    bounds: [10, null],
    hasShed: false,
    minutes,
    current,
  };
}

describe("combineStats", () => {
  it("sums nodes per minute over the last hour", () => {
    const now = T0 + 30_000;
    const a = node(
      "a",
      [
        { at: T0 - MINUTE, invites: 0, shed: 0, latency: [0, 0] },
        { at: T0, invites: 4, shed: 0, latency: [3, 4] },
      ],
      { at: now, invites: 10, shed: 0, latency: [8, 10] },
    );
    // Started this minute: zeros before.
    const b = node("b", [{ at: T0, invites: 0, shed: 0, latency: [0, 0] }], {
      at: now,
      invites: 5,
      shed: 0,
      latency: [5, 5],
    });
    const combined = combineStats([a, b], now);
    expect(combined.minutes).toHaveLength(60);
    expect(combined.minutes.at(-1)).toMatchObject({ at: T0, rings: 11 });
    expect(combined.minutes.at(-2)).toMatchObject({ at: T0 - MINUTE, rings: 4 });
    expect(combined.rings).toBe(15);
    expect(combined.devicesOnline).toBe(4);
    expect(combined.latency.count).toBe(15);
    expect(combined.shed).toBeNull();
  });

  it("never goes negative when a node's counters restart", () => {
    const restarted = node("a", [{ at: T0, invites: 50, shed: 0, latency: [9, 9] }], {
      at: T0 + 1_000,
      invites: 3,
      shed: 0,
      latency: [1, 1],
    });
    const combined = combineStats([restarted], T0 + 1_000);
    expect(combined.minutes.at(-1)?.rings).toBe(0);
  });
});

describe("LiveStats", () => {
  it("reads the ring latency histogram and counts invitations from the facts", async () => {
    let now = T0 + 5_000;
    const metrics = new BeckonMetrics({
      devicesOnline: () => 3,
      pendingDeadlines: () => 0,
      activeCalls: async () => ({ general: 0, advanced: 0 }),
    });
    const stats = new LiveStats({
      nodeID: "n",
      registry: metrics.registry,
      devicesOnline: () => 3,
      clock: () => now,
    });
    await stats.tick();
    metrics.observeRing(4);
    metrics.observeRing(40);
    const invited = {
      kind: "member.invited",
      callID: "c",
      userID: "bob",
      state: 0,
      at: now,
    } as const;
    await stats.hook.onFact?.(invited, { id: "c:1:0", version: 1 });
    now += MINUTE;
    await stats.tick();
    const snapshot = await stats.snapshot();
    expect(snapshot.minutes.map((m) => m.at)).toEqual([T0, T0 + MINUTE]);
    expect(snapshot.current.invites).toBe(1);
    expect(snapshot.current.latency.at(-1)).toBe(2);
    expect(snapshot.bounds.at(-1)).toBeNull();
    const combined = combineStats([snapshot], now);
    expect(combined.minutes.at(-2)?.rings).toBe(1);
    expect(combined.latency.count).toBe(2);
    expect(combined.latency.p50).toBeGreaterThan(0);
  });

  it("adds up a shed counter when the server has one", async () => {
    const registry = new Registry();
    const { Counter } = await import("prom-client");
    const shed = new Counter({
      name: "beckon_invitations_shed_total",
      help: "x",
      registers: [registry],
    });
    shed.inc(3);
    const stats = new LiveStats({ nodeID: "n", registry, devicesOnline: () => 0 });
    const snapshot = await stats.snapshot();
    expect(snapshot.hasShed).toBe(true);
    expect(snapshot.current.shed).toBe(3);
  });
});
