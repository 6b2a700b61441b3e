// Device streams for a cluster, on Redis: each stream is a Redis Stream whose entry IDs are
// `0-<offset>`, with its epoch and head offset in a hash beside it. Appending and fanning out to
// every node happen in one script, so every node hears a stream's entries in offset order.
// Redis holds no durable state of ours: if it restarts, epochs change and devices resync from
// the database (Centrifugo's model), never silently missing an event.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type {
  Publication,
  SignalListener,
  StreamBroker,
  StreamEntry,
  StreamListener,
  StreamPosition,
} from "./stream-broker.js";

export interface RedisBrokerOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** Put before every key and channel, so several deployments can share one Redis. */
  prefix?: string;
  /** How long an untouched stream is kept (the resume window); later, resuming means resync. */
  retentionMs?: number;
  /** At most this many entries per stream (roughly: Redis trims whole nodes). */
  maxEntries?: number;
  /** The clock `once.until` is on (the nodes' clocks, like every deadline). */
  clock?: () => number;
  /** How long Redis may be unreachable before `onHealth` listeners hear of it. */
  unhealthyAfterMs?: number;
}

// Appends a batch to many streams and fans it out in the same atomic step.
// KEYS: meta1, stream1, once1, meta2, stream2, once2, …  ARGV: channel, sharded, fresh epoch, ttl,
// maxlen, now, then per publication: stream name, payload, once key ('' for none), once until.
// A stream's once-keys live in a sorted set beside it, scored by when each may be forgotten:
// expired ones go as new ones come, and past MAX_ONCE_KEYS the soonest to expire goes.
/** As the memory broker: a flooded device's remembered keys stay bounded. */
const MAX_ONCE_KEYS = 4_096;

const publishScript = `
local entries = {}
local now = tonumber(ARGV[6])
for i = 1, #KEYS / 3 do
  local meta, stream, once = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local name, payload = ARGV[3 + 4 * i], ARGV[4 + 4 * i]
  local key, untilAt = ARGV[5 + 4 * i], ARGV[6 + 4 * i]
  if redis.call('HSETNX', meta, 'epoch', ARGV[3] .. '.' .. i) == 1 then
    redis.call('HSET', meta, 'offset', 0)
    redis.call('DEL', stream, once)
  end
  local fresh = true
  if key ~= '' then
    local seen = redis.call('ZSCORE', once, key)
    if seen and tonumber(seen) >= now then
      fresh = false
    else
      redis.call('ZREMRANGEBYSCORE', once, '-inf', '(' .. now)
      redis.call('ZADD', once, untilAt, key)
      if redis.call('ZCARD', once) > ${MAX_ONCE_KEYS} then redis.call('ZPOPMIN', once) end
      redis.call('PEXPIRE', once, ARGV[4])
    end
  end
  if fresh then
    local offset = redis.call('HINCRBY', meta, 'offset', 1)
    redis.call('XADD', stream, 'MAXLEN', '~', ARGV[5], '0-' .. offset, 'p', payload)
    redis.call('PEXPIRE', stream, ARGV[4])
    entries[#entries + 1] = {name, offset, payload, redis.call('HGET', meta, 'epoch')}
  end
  redis.call('PEXPIRE', meta, ARGV[4])
end
if #entries == 0 then return 0 end
local message = 'e' .. cjson.encode(entries)
if ARGV[2] == '1' then redis.call('SPUBLISH', ARGV[1], message)
else redis.call('PUBLISH', ARGV[1], message) end
return #entries
`;

// KEYS: meta, stream. ARGV: fresh epoch, ttl. Returns {epoch, offset}, creating the stream if
// new (and dropping entries left from a lost epoch, so offsets can start at 1 again).
const positionScript = `
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'offset', 0)
  redis.call('DEL', KEYS[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('HMGET', KEYS[1], 'epoch', 'offset')
`;

// KEYS: meta, stream. ARGV: epoch, offset. Returns false when the history since is gone, else
// a flat list offset, payload, offset, payload, …
const historyScript = `
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'offset')
if meta[1] ~= ARGV[1] then return false end
local since, head = tonumber(ARGV[2]), tonumber(meta[2])
if since > head then return false end
if since == head then return {} end
local range = redis.call('XRANGE', KEYS[2], '(0-' .. since, '+')
if #range ~= head - since then return false end
local out = {}
for i, entry in ipairs(range) do
  out[2 * i - 1] = string.sub(entry[1], 3)
  out[2 * i] = entry[2][2]
end
return out
`;

// KEYS: meta, stream, once. ARGV: fresh epoch, ttl.
const resetScript = `
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'offset', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return ARGV[1]
`;

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

function freshEpoch(): string {
  return randomBytes(8).toString("hex");
}

export class RedisStreamBroker implements StreamBroker {
  private readonly listeners = new Set<{ onEntry: StreamListener; onSignal: SignalListener }>();
  private readonly channel: string;
  private closed = false;
  private readonly healthListeners = new Set<(healthy: boolean) => void>();
  private healthy = true;
  private unhealthyTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly sharded: boolean,
    private readonly settings: Required<Omit<RedisBrokerOptions, "url">>,
  ) {
    this.channel = `${settings.prefix}fanout`;
    for (const connection of [redis, subscriber]) {
      connection.on("close", () => this.watchHealth());
      connection.on("ready", () => this.watchHealth());
    }
  }

  /**
   * Whether this node reaches Redis: without it, it cannot deliver events, so it should hand its
   * devices to nodes that can. Listeners hear `false` once Redis has been unreachable for
   * `unhealthyAfterMs`, and `true` when it is back.
   */
  onHealth(listener: (healthy: boolean) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  private watchHealth(): void {
    if (this.closed) return;
    const up = this.redis.status === "ready" && this.subscriber.status === "ready";
    if (up) {
      clearTimeout(this.unhealthyTimer);
      this.unhealthyTimer = undefined;
      if (!this.healthy) this.setHealth(true);
      return;
    }
    if (!this.healthy || this.unhealthyTimer) return;
    this.unhealthyTimer = setTimeout(() => {
      this.unhealthyTimer = undefined;
      const stillDown = this.redis.status !== "ready" || this.subscriber.status !== "ready";
      if (stillDown && !this.closed) this.setHealth(false);
    }, this.settings.unhealthyAfterMs);
    this.unhealthyTimer.unref();
  }

  private setHealth(healthy: boolean): void {
    this.healthy = healthy;
    for (const listener of this.healthListeners) listener(healthy);
  }

  /** Connects, and listens for the entries every node publishes. */
  static async open(options: RedisBrokerOptions): Promise<RedisStreamBroker> {
    const settings = {
      prefix: "beckon:",
      retentionMs: 120_000,
      maxEntries: 1_000,
      clock: Date.now,
      unhealthyAfterMs: 3_000,
      ...options,
    };
    if (settings.retentionMs <= 0 || settings.maxEntries <= 0)
      throw new Error("retentionMs and maxEntries must be positive");
    const redis = new Redis(settings.url, { lazyConnect: true });
    // Connection errors surface on the commands that fail; ioredis reconnects by itself.
    redis.on("error", () => {});
    await redis.connect();
    redis.defineCommand("beckonPublish", { lua: publishScript });
    redis.defineCommand("beckonPosition", { lua: positionScript, numberOfKeys: 2 });
    redis.defineCommand("beckonHistory", { lua: historyScript, numberOfKeys: 2 });
    redis.defineCommand("beckonReset", { lua: resetScript, numberOfKeys: 3 });
    const info = await redis.info("server");
    const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0);
    const subscriber = redis.duplicate();
    subscriber.on("error", () => {});
    const { url: _url, ...rest } = settings;
    const broker = new RedisStreamBroker(redis, subscriber, major >= 7, rest);
    await broker.listen();
    return broker;
  }

  private async listen(): Promise<void> {
    const onMessage = (channel: string, message: string) => {
      if (channel === this.channel) this.deliver(message);
    };
    if (this.sharded) {
      this.subscriber.on("smessage", onMessage);
      await this.subscriber.ssubscribe(this.channel);
    } else {
      this.subscriber.on("message", onMessage);
      await this.subscriber.subscribe(this.channel);
    }
  }

  private deliver(message: string): void {
    if (this.closed) return;
    if (message.startsWith("e")) {
      const entries = JSON.parse(message.slice(1)) as Array<[string, number, string, string]>;
      for (const [stream, offset, payload, epoch] of entries) {
        for (const listener of this.listeners) listener.onEntry(stream, { offset, payload }, epoch);
      }
    } else if (message.startsWith("s")) {
      const { stream, frame } = JSON.parse(message.slice(1)) as { stream: string; frame: string };
      for (const listener of this.listeners) listener.onSignal(stream, frame);
    }
  }

  private script(name: string): ScriptCall {
    return (this.redis as unknown as Record<string, ScriptCall>)[name] as ScriptCall;
  }

  private metaKey(stream: string): string {
    return `${this.settings.prefix}m:${stream}`;
  }

  private streamKey(stream: string): string {
    return `${this.settings.prefix}s:${stream}`;
  }

  private onceKey(stream: string): string {
    return `${this.settings.prefix}o:${stream}`;
  }

  async publish(batch: readonly Publication[]): Promise<void> {
    if (this.closed) throw new Error("the stream broker is closed");
    if (batch.length === 0) return;
    const keys: string[] = [];
    const streams: Array<string | number> = [];
    for (const { stream, payload, once } of batch) {
      keys.push(this.metaKey(stream), this.streamKey(stream), this.onceKey(stream));
      streams.push(stream, payload, once?.key ?? "", once?.until ?? 0);
    }
    await this.script("beckonPublish").call(
      this.redis,
      keys.length,
      ...keys,
      this.channel,
      this.sharded ? "1" : "0",
      freshEpoch(),
      this.settings.retentionMs,
      this.settings.maxEntries,
      this.settings.clock(),
      ...streams,
    );
  }

  async position(stream: string): Promise<StreamPosition> {
    const [epoch, offset] = (await this.script("beckonPosition").call(
      this.redis,
      this.metaKey(stream),
      this.streamKey(stream),
      freshEpoch(),
      this.settings.retentionMs,
    )) as [string, string];
    return { epoch, offset: Number(offset) };
  }

  async history(stream: string, since: StreamPosition): Promise<StreamEntry[] | "gone"> {
    const flat = (await this.script("beckonHistory").call(
      this.redis,
      this.metaKey(stream),
      this.streamKey(stream),
      since.epoch,
      since.offset,
    )) as string[] | null;
    if (flat === null) return "gone";
    const entries: StreamEntry[] = [];
    for (let i = 0; i < flat.length; i += 2)
      entries.push({ offset: Number(flat[i]), payload: flat[i + 1] as string });
    return entries;
  }

  async reset(stream: string): Promise<StreamPosition> {
    const epoch = (await this.script("beckonReset").call(
      this.redis,
      this.metaKey(stream),
      this.streamKey(stream),
      this.onceKey(stream),
      freshEpoch(),
      this.settings.retentionMs,
    )) as string;
    return { epoch, offset: 0 };
  }

  async trim(stream: string, offset: number): Promise<void> {
    await this.redis.xtrim(this.streamKey(stream), "MINID", `0-${offset + 1}`);
  }

  async drop(stream: string): Promise<void> {
    await this.redis.del(this.metaKey(stream), this.streamKey(stream), this.onceKey(stream));
  }

  async signal(stream: string, frame: string): Promise<void> {
    const message = `s${JSON.stringify({ stream, frame })}`;
    if (this.sharded) await this.redis.spublish(this.channel, message);
    else await this.redis.publish(this.channel, message);
  }

  /** Resolves once Redis answers (for /readyz). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  subscribe(onEntry: StreamListener, onSignal: SignalListener): () => void {
    const listener = { onEntry, onSignal };
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.unhealthyTimer);
    this.healthListeners.clear();
    this.listeners.clear();
    await Promise.allSettled([this.subscriber.quit(), this.redis.quit()]);
  }
}
