// Device streams for a cluster, on Redis: each stream is a Redis Stream whose entry IDs are
// `0-<offset>`; a user's streams, their epochs and their fan-out channel share the user's hash
// tag, so one script appends a user's entries and publishes them on the user's (sharded) channel
// in one atomic step: every node that holds one of the user's devices hears them in offset
// order, on one Redis or on a Redis Cluster. A node listens to the users whose streams it reads.
// Redis holds no durable state of ours: if it restarts, epochs change and devices resync from
// the database (Centrifugo's model), never silently missing an event.
import { randomBytes } from "node:crypto";
import { duplicateClient, type RedisClient, redisClient, redisTag } from "../redis-connection.js";
import type {
  Publication,
  SignalListener,
  StreamBroker,
  StreamEntry,
  StreamListener,
  StreamPosition,
} from "./stream-broker.js";

export interface RedisBrokerOptions {
  /** `redis://host:port/db`, or `redis://host:port?cluster=1` for a Redis Cluster. */
  url: string;
  /** Put before every key and channel, so several deployments can share one Redis. */
  prefix?: string;
  /** How long a stream nobody holds is kept (the resume window); later, resuming means resync. */
  retentionMs?: number;
  /** At most this many entries per stream (roughly: Redis trims whole nodes). */
  maxEntries?: number;
  /** The clock `once.until` is on (the nodes' clocks, like every deadline). */
  clock?: () => number;
  /** How long Redis may be unreachable before `onHealth` listeners hear of it. */
  unhealthyAfterMs?: number;
}

// Appends one user's entries and fans them out on the user's channel, atomically. The costs per
// call are what the cluster's capacity rests on, so the common path is one HMGET for the user's
// epochs, one XADD per entry (its offset is the auto sequence of ID `0-*`) and one publish; a
// stream's retention is renewed by the node holding its device, not on every append.
// KEYS: the user's epochs (a hash: device -> epoch), then each entry's stream key.
// ARGV: channel, fresh epoch, ttl, maxlen, now, once-key base, then per
// entry: device, stream name, payload, once key ('' for none), once until.
// Returns each entry's epoch and offset, flat, in KEYS order.
const publishScript = `
local meta = KEYS[1]
local now, ttl = tonumber(ARGV[5]), ARGV[3]
local n = #KEYS - 1
local devices = {}
for i = 1, n do devices[i] = ARGV[2 + 5 * i] end
local epochs = redis.call('HMGET', meta, unpack(devices))
local known = {}
for i = 1, n do if epochs[i] then known[devices[i]] = epochs[i] end end
local entries = {}
-- Per entry its epoch and offset ('' and 0: skipped by its once key).
local positions = {}
for i = 1, n do
  positions[2 * i - 1], positions[2 * i] = '', 0
end
for i = 1, n do
  local stream, device = KEYS[1 + i], devices[i]
  local name, payload = ARGV[3 + 5 * i], ARGV[4 + 5 * i]
  local key, untilAt = ARGV[5 + 5 * i], tonumber(ARGV[6 + 5 * i])
  local epoch = known[device]
  local id = false
  local shown = false
  if epoch then
    shown = key ~= '' and untilAt > now and
      not redis.call('SET', ARGV[6] .. device .. '|' .. epoch .. '|' .. key, '1', 'PX', untilAt - now, 'NX')
    -- Only while the stream's history is still there: else its offsets would restart unseen.
    if not shown then
      id = redis.call('XADD', stream, 'NOMKSTREAM', 'MAXLEN', '~', ARGV[4], '0-*', 'p', payload)
    end
  end
  if not shown then
    if not id then
      epoch = ARGV[2] .. '.' .. i
      known[device] = epoch
      redis.call('HSET', meta, device, epoch)
      redis.call('PEXPIRE', meta, ttl)
      redis.call('DEL', stream)
      if key ~= '' and untilAt > now then
        redis.call('SET', ARGV[6] .. device .. '|' .. epoch .. '|' .. key, '1', 'PX', untilAt - now)
      end
      id = redis.call('XADD', stream, 'MAXLEN', '~', ARGV[4], '0-*', 'p', payload)
      redis.call('PEXPIRE', stream, ttl)
    end
    local offset = tonumber(string.sub(id, 3))
    entries[#entries + 1] = {name, offset, payload, epoch}
    positions[2 * i - 1], positions[2 * i] = epoch, offset
  end
end
if #entries > 0 then redis.call('SPUBLISH', ARGV[1], 'e' .. cjson.encode(entries)) end
return positions
`;

// The offset of a stream's last entry (kept by Redis after trims), 0 for none.
const headOf = `
local function head(stream)
  if redis.call('EXISTS', stream) == 0 then return 0 end
  local info = redis.call('XINFO', 'STREAM', stream)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return tonumber(string.sub(info[i + 1], 3)) end
  end
  return 0
end
`;

// A stream with no entries and its last ID at 0-0, so appends (which never create a stream of a
// known epoch) number its entries from 1.
const startStream = `
local function start(stream, ttl)
  redis.call('DEL', stream)
  redis.call('XGROUP', 'CREATE', stream, 'g', '$', 'MKSTREAM')
  redis.call('PEXPIRE', stream, ttl)
end
`;

// KEYS: epochs, stream. ARGV: device, fresh epoch, ttl. Returns {epoch, offset}, starting the
// stream afresh if it has no epoch or lost its history.
const positionScript = `${headOf}${startStream}
local epoch = redis.call('HGET', KEYS[1], ARGV[1])
if not epoch or redis.call('EXISTS', KEYS[2]) == 0 then
  epoch = ARGV[2]
  redis.call('HSET', KEYS[1], ARGV[1], epoch)
  start(KEYS[2], ARGV[3])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {epoch, head(KEYS[2])}
`;

// KEYS: epochs, stream. ARGV: device, epoch, offset. Returns false when the history since is
// gone, else a flat list offset, payload, offset, payload, …
const historyScript = `${headOf}
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return false end
local since, last = tonumber(ARGV[3]), head(KEYS[2])
if since > last then return false end
if since == last then return {} end
local range = redis.call('XRANGE', KEYS[2], '(0-' .. since, '+')
if #range ~= last - since then return false end
local out = {}
for i, entry in ipairs(range) do
  out[2 * i - 1] = string.sub(entry[1], 3)
  out[2 * i] = entry[2][2]
end
return out
`;

// KEYS: epochs, stream. ARGV: device, fresh epoch, ttl. Once-keys carry the epoch, so the new
// epoch forgets them.
const resetScript = `${startStream}
start(KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return ARGV[2]
`;

// KEYS: epochs, stream. ARGV: device.
const dropScript = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`;

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

function freshEpoch(): string {
  return randomBytes(8).toString("hex");
}

/** A stream's user and device: the user decides the keys' slot and the channel. */
function partsOf(stream: string): { user: string; device: string } {
  const cut = stream.indexOf("\u0000");
  return cut < 0
    ? { user: stream, device: "" }
    : { user: stream.slice(0, cut), device: stream.slice(cut + 1) };
}

/** A stream this node reads: kept alive while its device is here, and for the resume window after. */
interface Watched {
  user: string;
  device: string;
  /** When its device was last seen on this node (epoch ms, this node's clock). */
  seenAt: number;
}

export class RedisStreamBroker implements StreamBroker {
  private readonly listeners = new Set<{
    onEntry: StreamListener;
    onSignal: SignalListener;
    holds?: (stream: string) => boolean;
  }>();
  private closed = false;
  private readonly healthListeners = new Set<(healthy: boolean) => void>();
  private healthy = true;
  private unhealthyTimer: NodeJS.Timeout | undefined;
  /** Streams this node reads, by stream name. */
  private readonly watched = new Map<string, Watched>();
  /** Users whose channel this node listens to: how many watched streams each has. */
  private readonly channels = new Map<string, number>();
  private readonly keeper: NodeJS.Timeout;

  private constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly settings: Required<Omit<RedisBrokerOptions, "url">>,
  ) {
    for (const connection of [redis, subscriber]) {
      connection.on("close", () => this.watchHealth());
      connection.on("ready", () => this.watchHealth());
    }
    // Several times per resume window, so a held stream never comes near its expiry.
    this.keeper = setInterval(
      () => void this.keepAlive().catch(() => {}),
      Math.max(50, Math.floor(settings.retentionMs / 4)),
    );
    this.keeper.unref();
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

  /** Connects; entries reach this node for the streams it reads (position, history, reset). */
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
    const redis = redisClient(settings.url, { lazyConnect: true });
    // Connection errors surface on the commands that fail; ioredis reconnects by itself.
    redis.on("error", () => {});
    await redis.connect();
    redis.defineCommand("beckonPublish", { lua: publishScript });
    redis.defineCommand("beckonPosition", { lua: positionScript, numberOfKeys: 2 });
    redis.defineCommand("beckonHistory", { lua: historyScript, numberOfKeys: 2 });
    redis.defineCommand("beckonReset", { lua: resetScript, numberOfKeys: 2 });
    redis.defineCommand("beckonDrop", { lua: dropScript, numberOfKeys: 2 });
    const info =
      "nodes" in redis
        ? await (redis.nodes("master")[0] as NonNullable<ReturnType<typeof redis.nodes>[0]>).info(
            "server",
          )
        : await redis.info("server");
    const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0);
    if (major < 7) {
      redis.disconnect();
      // Entry IDs `0-*` (an offset per stream without a counter of our own) came with Redis 7.
      throw new Error(`the stream broker needs Redis 7 or later, not ${major}`);
    }
    const subscriber = duplicateClient(redis);
    subscriber.on("error", () => {});
    const { url: _url, ...rest } = settings;
    const broker = new RedisStreamBroker(redis, subscriber, rest);
    broker.listen();
    return broker;
  }

  private listen(): void {
    const onMessage = (channel: string, message: string) => {
      if (channel.startsWith(this.settings.prefix)) this.deliver(message);
    };
    this.subscriber.on("smessage", onMessage);
    // Back from a lost connection: a sharded subscription may have moved with its slot.
    this.subscriber.on("ready", () => {
      if (this.channels.size > 0) void this.listenTo([...this.channels.keys()]).catch(() => {});
    });
  }

  private listenTo(users: readonly string[]): Promise<unknown> {
    // One SSUBSCRIBE per channel: in a Redis Cluster they may live on different shards.
    return Promise.all(users.map((user) => this.subscriber.ssubscribe(this.channelOf(user))));
  }

  private stopListening(user: string): void {
    const channel = this.channelOf(user);
    this.subscriber.sunsubscribe(channel).catch(() => {});
  }

  /** Starts reading a stream: its user's channel is listened to before anything is read. */
  private async watch(stream: string): Promise<{ user: string; device: string }> {
    const now = this.settings.clock();
    const known = this.watched.get(stream);
    if (known) {
      known.seenAt = now;
      return known;
    }
    const { user, device } = partsOf(stream);
    this.watched.set(stream, { user, device, seenAt: now });
    const count = this.channels.get(user) ?? 0;
    this.channels.set(user, count + 1);
    if (count === 0) await this.listenTo([user]);
    return { user, device };
  }

  private unwatch(stream: string): void {
    const watched = this.watched.get(stream);
    if (!watched) return;
    this.watched.delete(stream);
    const left = (this.channels.get(watched.user) ?? 1) - 1;
    if (left > 0) {
      this.channels.set(watched.user, left);
      return;
    }
    this.channels.delete(watched.user);
    this.stopListening(watched.user);
  }

  /**
   * Renews the retention of the streams whose devices are on this node (and, for the resume
   * window, of those that left), and stops reading the others: one round trip per slot.
   */
  private async keepAlive(): Promise<void> {
    if (this.closed) return;
    const now = this.settings.clock();
    const users = new Set<string>();
    const streams: string[] = [];
    for (const [stream, watched] of this.watched) {
      if (this.isHeld(stream)) watched.seenAt = now;
      else if (now - watched.seenAt > this.settings.retentionMs) {
        this.unwatch(stream);
        continue;
      }
      users.add(watched.user);
      streams.push(stream);
    }
    if (streams.length === 0) return;
    // Sent together, not as a pipeline: in a Redis Cluster a pipeline must stay in one slot.
    const ttl = this.settings.retentionMs;
    await Promise.all([
      ...streams.map((stream) => this.redis.pexpire(this.streamKey(stream), ttl)),
      ...[...users].map((user) => this.redis.pexpire(this.epochsKey(user), ttl)),
    ]);
  }

  /** Whether a listener still has the stream's device (without one that says, while watched). */
  private isHeld(stream: string): boolean {
    let asked = false;
    for (const listener of this.listeners) {
      if (!listener.holds) continue;
      asked = true;
      if (listener.holds(stream)) return true;
    }
    return !asked;
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

  private base(user: string): string {
    return `${this.settings.prefix}${redisTag(user)}`;
  }

  private epochsKey(user: string): string {
    return `${this.base(user)}m`;
  }

  private streamKey(stream: string): string {
    const { user, device } = partsOf(stream);
    return `${this.base(user)}s:${device}`;
  }

  private channelOf(user: string): string {
    return `${this.base(user)}f`;
  }

  async publish(batch: readonly Publication[]): Promise<Array<StreamPosition | null>> {
    if (this.closed) throw new Error("the stream broker is closed");
    const positions: Array<StreamPosition | null> = batch.map(() => null);
    if (batch.length === 0) return positions;
    // One script per user (one slot), all sent at once: a user's entries stay in order.
    const byUser = new Map<string, Array<Publication & { index: number }>>();
    for (const [index, publication] of batch.entries()) {
      const { user } = partsOf(publication.stream);
      const list = byUser.get(user);
      if (list) list.push({ ...publication, index });
      else byUser.set(user, [{ ...publication, index }]);
    }
    const now = this.settings.clock();
    const epoch = freshEpoch();
    await Promise.all(
      [...byUser].map(async ([user, publications]) => {
        const keys = [this.epochsKey(user)];
        const args: Array<string | number> = [];
        for (const { stream, payload, once } of publications) {
          keys.push(this.streamKey(stream));
          args.push(partsOf(stream).device, stream, payload, once?.key ?? "", once?.until ?? 0);
        }
        const got = (await this.script("beckonPublish").call(
          this.redis,
          keys.length,
          ...keys,
          this.channelOf(user),
          epoch,
          this.settings.retentionMs,
          this.settings.maxEntries,
          now,
          `${this.base(user)}o:`,
          ...args,
        )) as Array<string | number>;
        for (const [i, { index }] of publications.entries()) {
          const epoch = String(got[2 * i]);
          if (epoch !== "") positions[index] = { epoch, offset: Number(got[2 * i + 1]) };
        }
      }),
    );
    return positions;
  }

  async position(stream: string): Promise<StreamPosition> {
    const { user, device } = await this.watch(stream);
    const [epoch, offset] = (await this.script("beckonPosition").call(
      this.redis,
      this.epochsKey(user),
      this.streamKey(stream),
      device,
      freshEpoch(),
      this.settings.retentionMs,
    )) as [string, number];
    return { epoch, offset: Number(offset) };
  }

  async history(stream: string, since: StreamPosition): Promise<StreamEntry[] | "gone"> {
    const { user, device } = await this.watch(stream);
    const flat = (await this.script("beckonHistory").call(
      this.redis,
      this.epochsKey(user),
      this.streamKey(stream),
      device,
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
    const { user, device } = await this.watch(stream);
    const epoch = (await this.script("beckonReset").call(
      this.redis,
      this.epochsKey(user),
      this.streamKey(stream),
      device,
      freshEpoch(),
      this.settings.retentionMs,
    )) as string;
    return { epoch, offset: 0 };
  }

  async trim(stream: string, offset: number): Promise<void> {
    const watched = this.watched.get(stream);
    if (watched) watched.seenAt = this.settings.clock();
    await this.redis.xtrim(this.streamKey(stream), "MINID", `0-${offset + 1}`);
  }

  async drop(stream: string): Promise<void> {
    this.unwatch(stream);
    const { user, device } = partsOf(stream);
    await this.script("beckonDrop").call(
      this.redis,
      this.epochsKey(user),
      this.streamKey(stream),
      device,
    );
  }

  async signal(stream: string, frame: string): Promise<void> {
    const message = `s${JSON.stringify({ stream, frame })}`;
    await this.redis.spublish(this.channelOf(partsOf(stream).user), message);
  }

  /** Resolves once Redis answers (for /readyz). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /**
   * Entries and signals of the streams this node reads. `holds` says whether the listener still
   * has a stream's device: streams nobody holds are let go a resume window after.
   */
  subscribe(
    onEntry: StreamListener,
    onSignal: SignalListener,
    holds?: (stream: string) => boolean,
  ): () => void {
    const listener = { onEntry, onSignal, ...(holds ? { holds } : {}) };
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keeper);
    clearTimeout(this.unhealthyTimer);
    this.healthListeners.clear();
    this.listeners.clear();
    await Promise.allSettled([this.subscriber.quit(), this.redis.quit()]);
  }
}
