// Where the nodes of a deployment leave their live numbers for each other's consoles: in this
// process for a single node, in a Redis hash (one field per node) for a cluster. A node's entry
// older than a few publishing rounds is a stopped node's and is left out.
import { type RedisClient, redisClient } from "../redis-connection.js";
import type { NodeStats } from "./live-stats.js";

export interface StatsBoard {
  publish(stats: NodeStats): Promise<void>;
  /** Every node's latest stats that are fresher than `since`. */
  read(since: number): Promise<NodeStats[]>;
  /** The node stops: its entry goes at once. */
  remove(nodeID: string): Promise<void>;
  close(): Promise<void>;
}

export class MemoryStatsBoard implements StatsBoard {
  private readonly nodes = new Map<string, NodeStats>();

  async publish(stats: NodeStats): Promise<void> {
    this.nodes.set(stats.nodeID, stats);
  }

  async read(since: number): Promise<NodeStats[]> {
    return [...this.nodes.values()].filter((stats) => stats.at >= since);
  }

  async remove(nodeID: string): Promise<void> {
    this.nodes.delete(nodeID);
  }

  async close(): Promise<void> {}
}

/** Infinity does not survive JSON: the last histogram bound travels as null. */
export class RedisStatsBoard implements StatsBoard {
  private constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
  ) {}

  static async open(options: { url: string; prefix?: string }): Promise<RedisStatsBoard> {
    // One hash, so one slot: a Redis Cluster (`?cluster=1`) serves it as a single Redis does.
    const redis = redisClient(options.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    // Failures surface as rejected commands; the console then shows this node's own numbers.
    redis.on("error", () => {});
    await redis.connect();
    return new RedisStatsBoard(redis, `${options.prefix ?? "beckon:"}console:nodes`);
  }

  async publish(stats: NodeStats): Promise<void> {
    await this.redis.hset(this.key, stats.nodeID, JSON.stringify(stats));
  }

  async read(since: number): Promise<NodeStats[]> {
    const entries = await this.redis.hgetall(this.key);
    const fresh: NodeStats[] = [];
    const stale: string[] = [];
    for (const [nodeID, json] of Object.entries(entries)) {
      const stats = JSON.parse(json) as NodeStats;
      if (stats.at >= since) fresh.push(stats);
      // Long gone (a crashed node): tidy up so the hash does not grow with every restart.
      else if (stats.at < since - 3_600_000) stale.push(nodeID);
    }
    if (stale.length > 0) await this.redis.hdel(this.key, ...stale);
    return fresh;
  }

  async remove(nodeID: string): Promise<void> {
    await this.redis.hdel(this.key, nodeID);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
