// A node's numbers for the console's live view, kept for the last hour: rings started (from the
// committed facts), ring latency (the Prometheus histogram's buckets) and refused invitations
// (a `shed` counter, when the server has one). A reading is taken at each minute's first tick;
// the numbers are cumulative since the node started, so a cluster's view is the sum of its
// nodes' readings, and any window is a difference of two readings.
import type { MetricValueWithName, Registry } from "prom-client";
import type { Hook } from "../hooks/hook.js";

/** The cumulative counts at one moment. */
export interface StatsReading {
  /** The minute (epoch ms, a multiple of 60 000) the reading opens; for `current`, now. */
  at: number;
  invites: number;
  shed: number;
  /** Ring latency observations at or under each bound of `NodeStats.bounds` (cumulative). */
  latency: number[];
}

export interface NodeStats {
  nodeID: string;
  /** When this was taken (a board drops nodes whose stats are old). */
  at: number;
  devicesOnline: number;
  /** The histogram's upper bounds in ms; the last is Infinity (serialized as null). */
  bounds: Array<number | null>;
  /** Whether the server counts refused (shed) invitations at all. */
  hasShed: boolean;
  /** One reading per minute, oldest first, at most the last 61. */
  minutes: StatsReading[];
  current: StatsReading;
}

export const RING_LATENCY_METRIC = "beckon_ring_latency_seconds";
const MINUTE = 60_000;
const KEEP = 61;

export interface LiveStatsOptions {
  nodeID: string;
  registry: Registry;
  devicesOnline: () => number;
  clock?: () => number;
}

export class LiveStats {
  private invites = 0;
  private readonly minutes: StatsReading[] = [];
  private readonly clock: () => number;

  /** Counts each invitation committed (each time a member starts ringing). */
  readonly hook: Hook = {
    name: "console-stats",
    onFact: async (fact) => {
      if (fact.kind === "member.invited") this.invites++;
    },
  };

  constructor(private readonly options: LiveStatsOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** Takes this minute's reading if not taken yet; call it every few seconds. */
  async tick(): Promise<void> {
    const minute = Math.floor(this.clock() / MINUTE) * MINUTE;
    const last = this.minutes.at(-1);
    if (last && last.at >= minute) return;
    this.minutes.push({ ...(await this.read()), at: minute });
    if (this.minutes.length > KEEP) this.minutes.splice(0, this.minutes.length - KEEP);
  }

  async snapshot(): Promise<NodeStats> {
    const { bounds, hasShed, reading } = await this.readAll();
    return {
      nodeID: this.options.nodeID,
      at: this.clock(),
      devicesOnline: this.options.devicesOnline(),
      bounds,
      hasShed,
      minutes: [...this.minutes],
      current: reading,
    };
  }

  private async read(): Promise<StatsReading> {
    return (await this.readAll()).reading;
  }

  private async readAll(): Promise<{
    bounds: Array<number | null>;
    hasShed: boolean;
    reading: StatsReading;
  }> {
    const { registry } = this.options;
    const bounds: Array<number | null> = [];
    const latency: number[] = [];
    const histogram = registry.getSingleMetric(RING_LATENCY_METRIC);
    if (histogram) {
      const { values } = (await histogram.get()) as { values: MetricValueWithName<string>[] };
      for (const value of values) {
        if (value.metricName !== `${RING_LATENCY_METRIC}_bucket`) continue;
        const le = value.labels.le;
        bounds.push(le === "+Inf" || le === undefined ? null : Number(le) * 1000);
        latency.push(value.value);
      }
    }
    let shed = 0;
    let hasShed = false;
    // Whatever the overload protection calls its counter of refused work, as long as it says so.
    for (const { name, type } of registry.getMetricsAsArray()) {
      if (String(type) !== "counter" || !/^beckon_\w*shed\w*_total$/.test(name)) continue;
      const counter = registry.getSingleMetric(name);
      if (!counter) continue;
      hasShed = true;
      for (const value of (await counter.get()).values) shed += value.value;
    }
    return {
      bounds,
      hasShed,
      reading: { at: this.clock(), invites: this.invites, shed, latency },
    };
  }
}

export interface CombinedStats {
  at: number;
  devicesOnline: number;
  /** Each node's share of the sums (last hour), so a cluster's figures show where they come from. */
  nodes: Array<{
    nodeID: string;
    devicesOnline: number;
    /** Invitations this node relayed to the hooks. */
    rings: number;
    /** Rings this node delivered to a device (its ring latency observations). */
    delivered: number;
    shed: number;
  }>;
  /** Per minute over the last hour, oldest first; the last point is the minute running now. */
  minutes: Array<{ at: number; rings: number; p50: number | null; p99: number | null }>;
  /** Over the last hour. */
  rings: number;
  latency: { p50: number | null; p99: number | null; count: number };
  shed: number | null;
}

const zero = (size: number): StatsReading => ({
  at: 0,
  invites: 0,
  shed: 0,
  latency: new Array<number>(size).fill(0),
});

/** A node's reading as of `minute`: its latest taken by then (zeros before it started). */
function readingAt(node: NodeStats, minute: number): StatsReading {
  let found: StatsReading | undefined;
  for (const reading of node.minutes) if (reading.at <= minute) found = reading;
  return found ?? zero(node.bounds.length);
}

function sum(readings: readonly StatsReading[], size: number): StatsReading {
  const total = zero(size);
  for (const reading of readings) {
    total.invites += reading.invites;
    total.shed += reading.shed;
    reading.latency.forEach((count, index) => {
      if (index < size) total.latency[index] = (total.latency[index] ?? 0) + count;
    });
  }
  return total;
}

function minus(later: StatsReading, earlier: StatsReading): StatsReading {
  return {
    at: later.at,
    // A counter that went down belongs to a restarted node: count from zero.
    invites: Math.max(0, later.invites - earlier.invites),
    shed: Math.max(0, later.shed - earlier.shed),
    latency: later.latency.map((count, index) =>
      Math.max(0, count - (earlier.latency[index] ?? 0)),
    ),
  };
}

/** Like Prometheus's histogram_quantile: linear within the bucket the rank falls in. */
export function quantile(
  q: number,
  bounds: ReadonlyArray<number | null>,
  cumulative: readonly number[],
): number | null {
  const total = cumulative.at(-1) ?? 0;
  if (total === 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (let index = 0; index < cumulative.length; index++) {
    const count = cumulative[index] ?? 0;
    const bound = bounds[index] ?? null;
    if (count >= rank) {
      // Past the last finite bound Prometheus answers that bound; so does this.
      if (bound === null) return lower;
      const inBucket = count - below;
      return inBucket === 0 ? bound : lower + ((bound - lower) * (rank - below)) / inBucket;
    }
    if (bound !== null) lower = bound;
    below = count;
  }
  return lower;
}

/** The cluster's numbers from each node's stats (nodes with other buckets are left out). */
export function combineStats(nodes: readonly NodeStats[], now: number): CombinedStats {
  const reference = nodes.find((node) => node.bounds.length > 0) ?? nodes[0];
  const bounds = reference?.bounds ?? [];
  const same = nodes.filter((node) => JSON.stringify(node.bounds) === JSON.stringify(bounds));
  const size = bounds.length;
  const thisMinute = Math.floor(now / MINUTE) * MINUTE;
  const at = (minute: number) =>
    sum(
      same.map((node) => readingAt(node, minute)),
      size,
    );
  const current = sum(
    same.map((node) => node.current),
    size,
  );
  const minutes: CombinedStats["minutes"] = [];
  for (let minute = thisMinute - 59 * MINUTE; minute <= thisMinute; minute += MINUTE) {
    const start = at(minute);
    const end = minute === thisMinute ? current : at(minute + MINUTE);
    const delta = minus(end, start);
    minutes.push({
      at: minute,
      rings: delta.invites,
      p50: quantile(0.5, bounds, delta.latency),
      p99: quantile(0.99, bounds, delta.latency),
    });
  }
  const hour = minus(current, at(thisMinute - 59 * MINUTE));
  const hourOf = (node: NodeStats) =>
    minus(node.current, readingAt(node, thisMinute - 59 * MINUTE));
  return {
    at: now,
    devicesOnline: nodes.reduce((total, node) => total + node.devicesOnline, 0),
    nodes: nodes.map((node) => {
      const own = hourOf(node);
      return {
        nodeID: node.nodeID,
        devicesOnline: node.devicesOnline,
        rings: own.invites,
        delivered: own.latency.at(-1) ?? 0,
        shed: own.shed,
      };
    }),
    minutes,
    rings: hour.invites,
    latency: {
      p50: quantile(0.5, bounds, hour.latency),
      p99: quantile(0.99, bounds, hour.latency),
      count: hour.latency.at(-1) ?? 0,
    },
    shed: nodes.some((node) => node.hasShed) ? hour.shed : null,
  };
}
