// Presence for a cluster, on Redis: one hash per user, a field per device session holding its
// node, login time, away time and lease. Every change runs as a script, so the device cap is
// enforced atomically however many nodes log the same user in at once. Each node keeps a marker
// key alive at half a lease and lists the users it holds sessions of; when a node's marker
// lapses (it died, or lost Redis and shed its sockets), another node takes its sessions over as
// away before their leases end, so lost callers and vanished members are noticed. Times come
// from Redis' own clock, so nodes with skewed clocks agree on what expired. Every change
// publishes the user's ID, so each node can answer look-ups from a cache that is dropped as
// soon as the user's sessions change (a call's fan-out then asks Redis nothing). Each script
// touches one key, so all of it runs on a Redis Cluster as well.
import { duplicateClient, type RedisClient, redisClient, redisTag } from "../redis-connection.js";
import type { DeviceRef, DeviceState, LostNode, Presence } from "./presence.js";

export interface RedisPresenceOptions {
  /** `redis://host:port/db`, or `redis://host:port?cluster=1` for a Redis Cluster. */
  url: string;
  /** Put before every key, so several deployments can share one Redis. */
  prefix?: string;
  /** How long a session lives without a `touch` (a few heartbeats). */
  leaseMs?: number;
  /**
   * This node's ID: when set, the sessions this node holds are touched every third of a lease
   * (one round trip for all), so they stay while the node lives and lapse soon after it dies.
   */
  nodeID?: string;
}

// A field's value: "<expires at>|<login time>|<away since>|<node>", node last as it may hold "|".
const common = `
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function parse(value)
  local expires, login, away, node = string.match(value, '^(%d+)|(%d+)|(%d+)|(.*)$')
  return {expires = tonumber(expires), login = login, away = away, node = node}
end
local function live(key, at)
  local all = redis.call('HGETALL', key)
  local sessions = {}
  for i = 1, #all, 2 do
    local s = parse(all[i + 1])
    if s.expires <= at then redis.call('HDEL', key, all[i])
    else s.device = all[i]; sessions[#sessions + 1] = s end
  end
  return sessions
end
local function flat(sessions)
  local out = {}
  for _, s in ipairs(sessions) do
    out[#out + 1] = s.device; out[#out + 1] = s.node
    out[#out + 1] = s.login; out[#out + 1] = s.away
  end
  return out
end
-- Tells every node's cache that the user's sessions changed (a keyless PUBLISH: any slot).
local function changed(channel, user)
  redis.call('PUBLISH', channel, user)
end
`;

// KEYS: user. Returns Redis' time, the earliest expiry among the live sessions (0 for none),
// then the sessions, flat: device, node, login, away, …
const devicesScript = `${common}
local at = now()
local sessions = live(KEYS[1], at)
local soonest = 0
for _, s in ipairs(sessions) do
  if soonest == 0 or s.expires < soonest then soonest = s.expires end
end
local out = flat(sessions)
table.insert(out, 1, tostring(soonest))
table.insert(out, 1, tostring(at))
return out
`;

// KEYS: user. ARGV: device, node, login, away, lease, max devices, user, channel. Returns the
// sessions pushed out by the cap, oldest first, flat.
const joinScript = `${common}
local at = now()
local lease = tonumber(ARGV[5])
changed(ARGV[8], ARGV[7])
local others = {}
for _, s in ipairs(live(KEYS[1], at)) do
  if s.device ~= ARGV[1] then others[#others + 1] = s end
end
redis.call('HSET', KEYS[1], ARGV[1], (at + lease) .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease)
local excess = #others + 1 - tonumber(ARGV[6])
if excess <= 0 then return {} end
table.sort(others, function(a, b) return tonumber(a.login) < tonumber(b.login) end)
local out = {}
for i = 1, excess do
  redis.call('HDEL', KEYS[1], others[i].device)
  out[i] = others[i]
end
return flat(out)
`;

// KEYS: user. ARGV: device, node, away, lease, user, channel. Also renews the lease. Returns the
// session's login time, or false when there is no such session.
const markScript = `${common}
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return false end
local s = parse(value)
local at = now()
changed(ARGV[6], ARGV[5])
if s.expires <= at then redis.call('HDEL', KEYS[1], ARGV[1]); return false end
local lease = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], (at + lease) .. '|' .. s.login .. '|' .. ARGV[3] .. '|' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease)
return s.login
`;

// KEYS: user. ARGV: lease, user, channel, then device, node, login, away per session. Puts back
// sessions that are missing or whose lease ran out (Redis lost its data, or stalled for longer
// than a lease: its clock ran on meanwhile); one that is there and live (a newer login, or the
// device moved to another node) is left alone. Returns the devices put back: while they were
// missing, events for them were published to nobody.
const restoreScript = `${common}
local at = now()
local lease = tonumber(ARGV[1])
changed(ARGV[3], ARGV[2])
local restored = {}
for i = 4, #ARGV, 4 do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if not value or parse(value).expires <= at then
    redis.call('HSET', KEYS[1], ARGV[i],
      (at + lease) .. '|' .. ARGV[i + 2] .. '|' .. ARGV[i + 3] .. '|' .. ARGV[i + 1])
    restored[#restored + 1] = ARGV[i]
  end
end
redis.call('PEXPIRE', KEYS[1], lease)
return restored
`;

// KEYS: user. ARGV: lease, node ('' for any), then device IDs. With a node, only the sessions
// still on that node are renewed: a device that moved on is the new node's to keep alive.
const touchScript = `${common}
local at = now()
local lease = tonumber(ARGV[1])
local renewed = 0
for i = 3, #ARGV do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  if value then
    local s = parse(value)
    if s.expires > at and (ARGV[2] == '' or ARGV[2] == s.node) then
      redis.call('HSET', KEYS[1], ARGV[i], (at + lease) .. '|' .. s.login .. '|' .. s.away .. '|' .. s.node)
      renewed = renewed + 1
    end
  end
end
if renewed > 0 then redis.call('PEXPIRE', KEYS[1], lease) end
return renewed
`;

// KEYS: user. ARGV: lost node, this node, lease, user, channel. The lost node's live sessions
// become this node's, away since now unless they already were. Returns them, flat.
const takeOverScript = `${common}
local at = now()
local lease = tonumber(ARGV[3])
changed(ARGV[5], ARGV[4])
local taken = {}
for _, s in ipairs(live(KEYS[1], at)) do
  if s.node == ARGV[1] then
    if s.away == '0' then s.away = tostring(at) end
    redis.call('HSET', KEYS[1], s.device, (at + lease) .. '|' .. s.login .. '|' .. s.away .. '|' .. ARGV[2])
    s.node = ARGV[2]
    taken[#taken + 1] = s
  end
end
if #taken > 0 then redis.call('PEXPIRE', KEYS[1], lease) end
return flat(taken)
`;

// KEYS: user. ARGV: device, login time, user, channel.
const leaveScript = `${common}
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value and parse(value).login == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  changed(ARGV[4], ARGV[3])
  return 1
end
return 0
`;

/** How long a decision waits to be put on the in-flight list before it is refused (retryable). */
const COMMIT_LIST_TIMEOUT_MS = 1_000;

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

/** How long a call whose events are out stays on its node's in-flight list. */
const LIST_LINGER_MS = 2_000;
/** The longest a look-up is answered from the cache, whatever the leases say. */
const CACHE_MS = 60_000;
/** Users whose sessions a node keeps cached at most (the least recently read go first). */
const CACHED_USERS = 50_000;

interface Cached {
  devices: DeviceState[];
  /** This node's clock: when the earliest of their leases runs out. */
  until: number;
}

function isTime(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

export class RedisPresence implements Presence {
  private readonly prefix: string;
  readonly leaseMs: number;
  private readonly nodeID: string | undefined;
  /** The sessions on this node, by user and device, kept alive by `refresh`. */
  private readonly held = new Map<string, Map<string, DeviceState>>();
  private refresher: NodeJS.Timeout | undefined;
  private readonly lostListeners: Array<(lost: LostNode) => Promise<void>> = [];
  private readonly restoredListeners: Array<(devices: DeviceState[]) => Promise<void>> = [];
  /** What was taken over before anyone listened (this node's own, left by its last run). */
  private unheard: LostNode = { devices: [], calls: [] };
  /** Commits under way per call; a call leaves the in-flight list when its count is back to 0. */
  private readonly committing = new Map<string, number>();
  /** Calls whose events are out, by when: taken off the list once they rest a while. */
  private readonly published = new Map<string, number>();
  /** Calls on this node's in-flight list in Redis (or being put there). */
  private readonly onList = new Map<string, Promise<void>>();
  private publishedFlush: NodeJS.Timeout | undefined;
  /** Users this node put in its user list; those it no longer holds are taken out by `refresh`. */
  private readonly listed = new Set<string>();
  /** Users' sessions as last read, dropped when any node changes them. */
  private readonly cache = new Map<string, Cached>();
  /** Look-ups under way per user; a change meanwhile keeps their answer out of the cache. */
  private readonly reading = new Map<string, { count: number; stale: boolean }>();
  private readonly changes: string;

  private constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    options: RedisPresenceOptions,
  ) {
    this.changes = `${options.prefix ?? "beckon:"}presence`;
    this.prefix = options.prefix ?? "beckon:";
    this.leaseMs = options.leaseMs ?? 90_000;
    this.nodeID = options.nodeID;
    if (this.nodeID !== undefined) {
      this.refresher = setInterval(() => {
        this.refresh().catch(() => {
          // Redis away: the next round tries again; sessions outlive a short outage by the lease.
        });
      }, this.leaseMs / 3);
      this.refresher.unref();
    }
  }

  /** Follows a session: on this node it is renewed by `refresh`, elsewhere it is not ours. */
  private hold(device: DeviceState): void {
    if (this.nodeID === undefined) return;
    let devices = this.held.get(device.userID);
    if (device.nodeID === this.nodeID) {
      if (!devices) {
        devices = new Map();
        this.held.set(device.userID, devices);
      }
      devices.set(device.deviceID, { ...device });
      this.listed.add(device.userID);
    } else {
      this.release(device);
    }
  }

  private release(device: DeviceRef, loginTime?: number): void {
    const devices = this.held.get(device.userID);
    const held = devices?.get(device.deviceID);
    if (!devices || !held || (loginTime !== undefined && held.loginTime !== loginTime)) return;
    devices.delete(device.deviceID);
    if (devices.size === 0) this.held.delete(device.userID);
  }

  /** A node's keys share its hash tag (one slot), so they can change together. */
  private nodeKey(nodeID: string): string {
    return `${this.prefix}node:${redisTag(nodeID)}`;
  }

  private get markerKey(): string {
    return this.nodeKey(this.nodeID ?? "");
  }

  /** The users a node holds (or held) sessions of: where to look when it is lost. */
  private usersKey(nodeID: string): string {
    return `${this.nodeKey(nodeID)}:users`;
  }

  private get nodesKey(): string {
    return `${this.prefix}nodes`;
  }

  /**
   * Half a lease: a lost node's marker is gone, and noticed by another node's refresh (every
   * third of a lease), before its sessions' leases run out.
   */
  private get markerMs(): number {
    return Math.ceil(this.leaseMs / 2);
  }

  /** Calls a node is committing and publishing a decision of. */
  private inflightKey(nodeID: string): string {
    return `${this.nodeKey(nodeID)}:inflight`;
  }

  onSessionsRestored(listener: (devices: DeviceState[]) => Promise<void>): void {
    this.restoredListeners.push(listener);
  }

  onNodeLost(listener: (lost: LostNode) => Promise<void>): void {
    this.lostListeners.push(listener);
    const unheard = this.unheard;
    this.unheard = { devices: [], calls: [] };
    if (unheard.devices.length > 0 || unheard.calls.length > 0)
      void listener(unheard).catch(() => {});
  }

  async commitStarted(callID: string): Promise<void> {
    if (this.nodeID === undefined) return;
    this.committing.set(callID, (this.committing.get(callID) ?? 0) + 1);
    this.published.delete(callID);
    // A call stays on the list a while after its events are out: the next command of the call
    // (a receipt, the accept) then costs Redis nothing.
    let listed = this.onList.get(callID);
    if (!listed) {
      listed = this.redis.zadd(this.inflightKey(this.nodeID), String(Date.now()), callID).then(
        () => {},
        (error: unknown) => {
          this.onList.delete(callID);
          throw error;
        },
      );
      listed.catch(() => {});
      this.onList.set(callID, listed);
    }
    // Bounded: a stalled Redis must not hold a decision until after the deadlines it set. The
    // command still runs when Redis answers; the call then leaves the list as after a publish.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), COMMIT_LIST_TIMEOUT_MS);
    });
    try {
      const outcome = await Promise.race([listed, late]);
      if (outcome === "late") throw new Error("Redis did not answer in time");
    } catch (error) {
      this.commitPublished(callID);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  commitPublished(callID: string): void {
    if (this.nodeID === undefined) return;
    const left = (this.committing.get(callID) ?? 1) - 1;
    if (left > 0) {
      this.committing.set(callID, left);
      return;
    }
    this.committing.delete(callID);
    this.published.set(callID, Date.now());
    // Taken off the list in batches, a while after: one is left there a little longer, which
    // costs a needless resync if the node is lost just then.
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.publishedFlush) return;
    this.publishedFlush = setTimeout(() => this.flushPublished(), LIST_LINGER_MS);
    this.publishedFlush.unref();
  }

  private flushPublished(all = false): void {
    this.publishedFlush = undefined;
    if (this.nodeID === undefined || this.published.size === 0) return;
    const done: string[] = [];
    const now = Date.now();
    for (const [callID, at] of this.published) {
      if (!all && now - at < LIST_LINGER_MS) continue;
      this.published.delete(callID);
      this.onList.delete(callID);
      done.push(callID);
    }
    if (this.published.size > 0 && !all) this.scheduleFlush();
    if (done.length === 0) return;
    this.redis.zrem(this.inflightKey(this.nodeID), ...done).catch(() => {
      // Left on the list: a needless resync if this node is lost, nothing worse.
    });
  }

  /** Puts the user on the node's list (where to look if the node is lost); its own slot. */
  private async listUser(nodeID: string, userID: string): Promise<void> {
    const users = this.usersKey(nodeID);
    await Promise.all([
      this.redis.sadd(users, userID),
      this.redis.pexpire(users, 4 * this.leaseMs),
    ]);
  }

  /**
   * Takes over the live sessions `lost` holds (away, from now) and forgets the node; once per
   * lost node across the cluster, as the claim says.
   */
  private async takeOver(lost: string): Promise<LostNode> {
    if (this.nodeID === undefined) return { devices: [], calls: [] };
    const [users, calls] = await Promise.all([
      this.redis.smembers(this.usersKey(lost)),
      this.redis.zrange(this.inflightKey(lost), "0", "-1"),
    ]);
    const taken: DeviceState[] = [];
    for (const userID of users) {
      const flat = (await this.script("beckonTakeOver").call(
        this.redis,
        this.key(userID),
        lost,
        this.nodeID,
        this.leaseMs,
        userID,
        this.changes,
      )) as string[];
      this.forget(userID);
      for (const device of this.unflatten(userID, flat)) {
        this.hold(device);
        taken.push(device);
      }
    }
    if (taken.length > 0) {
      await this.redis.sadd(this.usersKey(this.nodeID), ...new Set(taken.map((d) => d.userID)));
    }
    await this.redis.del(this.inflightKey(lost));
    if (lost !== this.nodeID) {
      await this.redis.del(this.usersKey(lost));
      await this.redis.srem(this.nodesKey, lost);
    }
    return { devices: taken, calls };
  }

  /** Looks for nodes whose marker lapsed and takes over the sessions of those this node claims. */
  private async checkNodes(): Promise<void> {
    if (this.nodeID === undefined) return;
    const others = (await this.redis.smembers(this.nodesKey)).filter((id) => id !== this.nodeID);
    if (others.length === 0) return;
    const alive = await Promise.all(others.map((id) => this.redis.exists(this.nodeKey(id))));
    for (const [i, id] of others.entries()) {
      if (alive[i] !== 0) continue;
      const claimed = await this.redis.set(
        `${this.nodeKey(id)}:claim`,
        this.nodeID,
        "PX",
        this.leaseMs,
        "NX",
      );
      if (claimed !== "OK") continue;
      const taken = await this.takeOver(id);
      if (taken.devices.length > 0 || taken.calls.length > 0) await this.tell(taken);
    }
  }

  private async tell(lost: LostNode): Promise<void> {
    if (this.lostListeners.length === 0) {
      this.unheard.devices.push(...lost.devices);
      this.unheard.calls.push(...lost.calls);
      return;
    }
    for (const listener of this.lostListeners) await listener(lost).catch(() => {});
  }

  /**
   * Renews the lease of every session this node holds, in one round trip. The node's marker key
   * lives as long as a lease: if it is gone, Redis lost its data (a restart) or this node missed
   * a whole lease, and the sessions are put back.
   */
  async refresh(): Promise<void> {
    if (this.nodeID === undefined) return;
    const alive = await this.redis.pexpire(this.markerKey, this.markerMs);
    if (alive === 1) {
      const byUser = new Map<string, Iterable<string>>();
      for (const [userID, devices] of this.held) byUser.set(userID, devices.keys());
      await this.touchAll(byUser, this.nodeID);
      const gone = [...this.listed].filter((userID) => !this.held.has(userID));
      for (const userID of gone) this.listed.delete(userID);
      const list = this.redis.multi();
      if (gone.length > 0) list.srem(this.usersKey(this.nodeID), ...gone);
      // Added again: a login racing this refresh may have had its user taken out just now.
      if (this.held.size > 0) list.sadd(this.usersKey(this.nodeID), ...this.held.keys());
      list.pexpire(this.usersKey(this.nodeID), 4 * this.leaseMs);
      await list.pexpire(this.inflightKey(this.nodeID), 4 * this.leaseMs).exec();
      await this.checkNodes();
      return;
    }
    // Sent together, not as one pipeline: in a Redis Cluster a pipeline must stay in one slot.
    const restore = this.script("beckonRestore");
    const restored: DeviceState[] = [];
    await Promise.all([
      ...[...this.held].map(async ([userID, devices]) => {
        const args: Array<string | number> = [];
        const sent = [...devices.values()];
        for (const d of sent) args.push(d.deviceID, d.nodeID, d.loginTime, d.awaySince);
        const back = (await restore.call(
          this.redis,
          this.key(userID),
          this.leaseMs,
          userID,
          this.changes,
          ...args,
        )) as string[];
        for (const deviceID of back) {
          const device = sent.find((d) => d.deviceID === deviceID);
          if (device) restored.push({ ...device });
        }
      }),
      this.held.size > 0 ? this.redis.sadd(this.usersKey(this.nodeID), ...this.held.keys()) : null,
      this.redis.pexpire(this.usersKey(this.nodeID), 4 * this.leaseMs),
      this.redis.sadd(this.nodesKey, this.nodeID),
      this.redis.set(this.markerKey, "1", "PX", this.markerMs),
    ]);
    if (restored.length === 0) return;
    for (const listener of this.restoredListeners) await listener(restored).catch(() => {});
  }

  static async open(options: RedisPresenceOptions): Promise<RedisPresence> {
    if (options.leaseMs !== undefined && !(options.leaseMs > 0))
      throw new Error("leaseMs must be positive");
    const redis = redisClient(options.url, { lazyConnect: true });
    redis.on("error", () => {});
    await redis.connect();
    const subscriber = duplicateClient(redis);
    subscriber.on("error", () => {});
    redis.defineCommand("beckonDevices", { lua: devicesScript, numberOfKeys: 1 });
    redis.defineCommand("beckonJoin", { lua: joinScript, numberOfKeys: 1 });
    redis.defineCommand("beckonMark", { lua: markScript, numberOfKeys: 1 });
    redis.defineCommand("beckonTakeOver", { lua: takeOverScript, numberOfKeys: 1 });
    redis.defineCommand("beckonTouch", { lua: touchScript, numberOfKeys: 1 });
    redis.defineCommand("beckonLeave", { lua: leaveScript, numberOfKeys: 1 });
    redis.defineCommand("beckonRestore", { lua: restoreScript, numberOfKeys: 1 });
    const presence = new RedisPresence(redis, subscriber, options);
    await presence.listen();
    if (options.nodeID !== undefined) {
      await redis.set(presence.markerKey, "1", "PX", presence.markerMs);
      await redis.sadd(presence.nodesKey, options.nodeID);
      // Sessions this node ID held in an earlier run look attached until their leases end:
      // take them over now, so their devices count as away from the moment it restarted.
      presence.unheard = await presence.takeOver(options.nodeID);
      // Back from a lost connection (perhaps a restarted Redis): check at once, not a third of a
      // lease later, whether the sessions must be put back.
      redis.on("ready", () => {
        presence.refresh().catch(() => {});
      });
    }
    return presence;
  }

  private script(name: string): ScriptCall {
    return (this.redis as unknown as Record<string, ScriptCall>)[name] as ScriptCall;
  }

  private key(userID: string): string {
    return `${this.prefix}p:${redisTag(userID)}${userID}`;
  }

  /** Hears every node's changes; until then, and after a lost connection, nothing is cached. */
  private async listen(): Promise<void> {
    this.subscriber.on("message", (channel: string, userID: string) => {
      if (channel === this.changes) this.forget(userID);
    });
    // Changes published while the connection was down were missed: start the cache over.
    this.subscriber.on("close", () => this.forgetAll());
    this.subscriber.on("ready", () => this.forgetAll());
    await this.subscriber.subscribe(this.changes);
  }

  private forget(userID: string): void {
    this.cache.delete(userID);
    const reading = this.reading.get(userID);
    if (reading) reading.stale = true;
  }

  private forgetAll(): void {
    this.cache.clear();
    for (const reading of this.reading.values()) reading.stale = true;
  }

  /** The user's sessions from the cache, while no change was heard and no lease ran out. */
  devicesNow(userID: string): DeviceState[] | undefined {
    const cached = this.cache.get(userID);
    if (!cached) return undefined;
    if (Date.now() >= cached.until) {
      this.cache.delete(userID);
      return undefined;
    }
    return cached.devices.slice();
  }

  private unflatten(userID: string, flat: string[]): DeviceState[] {
    const sessions: DeviceState[] = [];
    for (let i = 0; i < flat.length; i += 4) {
      sessions.push({
        userID,
        deviceID: flat[i] as string,
        nodeID: flat[i + 1] as string,
        loginTime: Number(flat[i + 2]),
        awaySince: Number(flat[i + 3]),
      });
    }
    return sessions;
  }

  async devicesOf(userID: string): Promise<DeviceState[]> {
    const cached = this.devicesNow(userID);
    if (cached) return cached;
    let reading = this.reading.get(userID);
    if (reading) reading.count += 1;
    else {
      reading = { count: 1, stale: this.subscriber.status !== "ready" };
      this.reading.set(userID, reading);
    }
    const asked = Date.now();
    try {
      const [redisNow, soonest, ...flat] = (await this.script("beckonDevices").call(
        this.redis,
        this.key(userID),
      )) as string[];
      const devices = this.unflatten(userID, flat);
      if (!reading.stale) {
        // Leases are on Redis' clock; the cache's deadline is moved onto this node's.
        const leaseLeft = Number(soonest) === 0 ? CACHE_MS : Number(soonest) - Number(redisNow);
        this.cache.delete(userID);
        this.cache.set(userID, { devices, until: asked + Math.min(CACHE_MS, leaseLeft) });
        if (this.cache.size > CACHED_USERS) {
          const oldest = this.cache.keys().next().value;
          if (oldest !== undefined) this.cache.delete(oldest);
        }
      }
      return devices.slice();
    } finally {
      reading.count -= 1;
      if (reading.count === 0) this.reading.delete(userID);
    }
  }

  async join(device: DeviceState, maxDevices: number): Promise<DeviceState[]> {
    if (!Number.isSafeInteger(maxDevices) || maxDevices < 1)
      throw new Error(`maxDevices must be a positive integer, not ${maxDevices}`);
    if (!isTime(device.loginTime) || !isTime(device.awaySince))
      throw new Error("loginTime and awaySince must be epoch milliseconds");
    await this.listUser(device.nodeID, device.userID);
    const flat = (await this.script("beckonJoin").call(
      this.redis,
      this.key(device.userID),
      device.deviceID,
      device.nodeID,
      device.loginTime,
      device.awaySince,
      this.leaseMs,
      maxDevices,
      device.userID,
      this.changes,
    )) as string[];
    this.forget(device.userID);
    this.hold(device);
    const evicted = this.unflatten(device.userID, flat);
    for (const other of evicted) this.release(other);
    return evicted;
  }

  async mark(device: DeviceRef, nodeID: string, awaySince: number): Promise<void> {
    if (!isTime(awaySince)) throw new Error("awaySince must be epoch milliseconds");
    await this.listUser(nodeID, device.userID);
    const loginTime = (await this.script("beckonMark").call(
      this.redis,
      this.key(device.userID),
      device.deviceID,
      nodeID,
      awaySince,
      this.leaseMs,
      device.userID,
      this.changes,
    )) as string | null;
    this.forget(device.userID);
    if (loginTime === null) this.release(device);
    else this.hold({ ...device, nodeID, awaySince, loginTime: Number(loginTime) });
  }

  async touch(devices: readonly DeviceRef[]): Promise<void> {
    const byUser = new Map<string, string[]>();
    for (const { userID, deviceID } of devices) {
      const list = byUser.get(userID);
      if (list) list.push(deviceID);
      else byUser.set(userID, [deviceID]);
    }
    await this.touchAll(byUser, "");
  }

  private async touchAll(
    byUser: ReadonlyMap<string, Iterable<string>>,
    nodeID: string,
  ): Promise<void> {
    if (byUser.size === 0) return;
    // Sent together (one write for a whole heartbeat sweep), not as one pipeline: in a Redis
    // Cluster a pipeline must stay in one slot.
    const touch = this.script("beckonTouch");
    await Promise.all(
      [...byUser].map(([userID, deviceIDs]) =>
        touch.call(this.redis, this.key(userID), this.leaseMs, nodeID, ...deviceIDs),
      ),
    );
  }

  async leave(device: DeviceRef, loginTime: number): Promise<void> {
    await this.script("beckonLeave").call(
      this.redis,
      this.key(device.userID),
      device.deviceID,
      loginTime,
      device.userID,
      this.changes,
    );
    this.forget(device.userID);
    this.release(device, loginTime);
  }

  async close(): Promise<void> {
    clearInterval(this.refresher);
    clearTimeout(this.publishedFlush);
    this.flushPublished(true);
    await Promise.allSettled([this.subscriber.quit(), this.redis.quit()]);
  }
}
