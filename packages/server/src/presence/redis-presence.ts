// Presence for a cluster, on Redis: one hash per user, a field per device session holding its
// node, login time, away time and lease. Every change runs as a script, so the device cap is
// enforced atomically however many nodes log the same user in at once. Each node keeps a marker
// key alive at half a lease and lists the users it holds sessions of; when a node's marker
// lapses (it died, or lost Redis and shed its sockets), another node takes its sessions over as
// away before their leases end, so lost callers and vanished members are noticed. Times come
// from Redis' own clock, so nodes with skewed clocks agree on what expired.
import { Redis } from "ioredis";
import type { DeviceRef, DeviceState, LostNode, Presence } from "./presence.js";

export interface RedisPresenceOptions {
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
`;

// KEYS: user. Returns the live sessions, flat: device, node, login, away, …
const devicesScript = `${common}
return flat(live(KEYS[1], now()))
`;

// KEYS: user, the node's user list. ARGV: device, node, login, away, lease, max devices. Returns
// the sessions pushed out by the cap, oldest first, flat.
const joinScript = `${common}
local at = now()
local lease = tonumber(ARGV[5])
redis.call('SADD', KEYS[2], ARGV[7])
redis.call('PEXPIRE', KEYS[2], 4 * lease)
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

// KEYS: user, the node's user list. ARGV: device, node, away, lease, user. Also renews the
// lease. Returns the session's login time, or false when there is no such session.
const markScript = `${common}
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return false end
local s = parse(value)
local at = now()
if s.expires <= at then redis.call('HDEL', KEYS[1], ARGV[1]); return false end
local lease = tonumber(ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('PEXPIRE', KEYS[2], 4 * lease)
redis.call('HSET', KEYS[1], ARGV[1], (at + lease) .. '|' .. s.login .. '|' .. ARGV[3] .. '|' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease)
return s.login
`;

// KEYS: user. ARGV: lease, then device, node, login, away per session. Puts back sessions that
// are missing (Redis lost its data); one that is there (a newer login) is left alone.
const restoreScript = `${common}
local at = now()
local lease = tonumber(ARGV[1])
for i = 2, #ARGV, 4 do
  redis.call('HSETNX', KEYS[1], ARGV[i],
    (at + lease) .. '|' .. ARGV[i + 2] .. '|' .. ARGV[i + 3] .. '|' .. ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], lease)
return 1
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

// KEYS: user. ARGV: lost node, this node, lease. The lost node's live sessions become this
// node's, away since now unless they already were. Returns them, flat.
const takeOverScript = `${common}
local at = now()
local lease = tonumber(ARGV[3])
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

// KEYS: user. ARGV: device, login time.
const leaveScript = `${common}
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value and parse(value).login == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
`;

/** How long a decision waits to be put on the in-flight list before it is refused (retryable). */
const COMMIT_LIST_TIMEOUT_MS = 1_000;

type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

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
  /** What was taken over before anyone listened (this node's own, left by its last run). */
  private unheard: LostNode = { devices: [], calls: [] };
  /** Commits under way per call; a call leaves the in-flight list when its count is back to 0. */
  private readonly committing = new Map<string, number>();
  private readonly published = new Set<string>();
  private publishedFlush: NodeJS.Timeout | undefined;
  /** Users this node put in its user list; those it no longer holds are taken out by `refresh`. */
  private readonly listed = new Set<string>();

  private constructor(
    private readonly redis: Redis,
    options: RedisPresenceOptions,
  ) {
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

  private get markerKey(): string {
    return `${this.prefix}node:${this.nodeID}`;
  }

  /** The users a node holds (or held) sessions of: where to look when it is lost. */
  private usersKey(nodeID: string): string {
    return `${this.prefix}node:${nodeID}:users`;
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
    return `${this.prefix}node:${nodeID}:inflight`;
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
    // Bounded: a stalled Redis must not hold a decision until after the deadlines it set. The
    // command still runs when Redis answers; the call then leaves the list as after a publish.
    let timer: NodeJS.Timeout | undefined;
    const listed = this.redis.zadd(this.inflightKey(this.nodeID), String(Date.now()), callID);
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), COMMIT_LIST_TIMEOUT_MS);
    });
    try {
      const outcome = await Promise.race([listed, late]);
      if (outcome === "late") throw new Error("Redis did not answer in time");
    } catch (error) {
      listed.catch(() => {});
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
    this.published.add(callID);
    // Taken off the list in batches: one is left there a little longer at most, which costs a
    // needless resync if the node is lost just then.
    this.publishedFlush ??= setTimeout(() => this.flushPublished(), 100);
  }

  private flushPublished(): void {
    this.publishedFlush = undefined;
    if (this.nodeID === undefined || this.published.size === 0) return;
    const done = [...this.published];
    this.published.clear();
    this.redis.zrem(this.inflightKey(this.nodeID), ...done).catch(() => {
      // Left on the list: a needless resync if this node is lost, nothing worse.
    });
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
      )) as string[];
      for (const device of this.unflatten(userID, flat)) {
        this.hold(device);
        taken.push(device);
      }
    }
    if (taken.length > 0) {
      await this.redis.sadd(this.usersKey(this.nodeID), ...new Set(taken.map((d) => d.userID)));
    }
    const forget = this.redis.multi().del(this.inflightKey(lost));
    if (lost !== this.nodeID) forget.del(this.usersKey(lost)).srem(this.nodesKey, lost);
    await forget.exec();
    return { devices: taken, calls };
  }

  /** Looks for nodes whose marker lapsed and takes over the sessions of those this node claims. */
  private async checkNodes(): Promise<void> {
    if (this.nodeID === undefined) return;
    const others = (await this.redis.smembers(this.nodesKey)).filter((id) => id !== this.nodeID);
    if (others.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of others) pipeline.exists(`${this.prefix}node:${id}`);
    const alive = (await pipeline.exec()) ?? [];
    for (const [i, id] of others.entries()) {
      if (alive[i]?.[1] !== 0) continue;
      const claimed = await this.redis.set(
        `${this.prefix}node:${id}:claim`,
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
    const pipeline = this.redis.pipeline();
    const restore = (
      pipeline as unknown as Record<string, (...args: Array<string | number>) => void>
    ).beckonRestore as (...args: Array<string | number>) => void;
    for (const [userID, devices] of this.held) {
      const args: Array<string | number> = [];
      for (const d of devices.values()) args.push(d.deviceID, d.nodeID, d.loginTime, d.awaySince);
      restore.call(pipeline, this.key(userID), this.leaseMs, ...args);
    }
    if (this.held.size > 0) pipeline.sadd(this.usersKey(this.nodeID), ...this.held.keys());
    pipeline.pexpire(this.usersKey(this.nodeID), 4 * this.leaseMs);
    pipeline.sadd(this.nodesKey, this.nodeID);
    pipeline.set(this.markerKey, "1", "PX", this.markerMs);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error !== null);
    if (failed) throw failed[0];
  }

  static async open(options: RedisPresenceOptions): Promise<RedisPresence> {
    if (options.leaseMs !== undefined && !(options.leaseMs > 0))
      throw new Error("leaseMs must be positive");
    const redis = new Redis(options.url, { lazyConnect: true });
    redis.on("error", () => {});
    await redis.connect();
    redis.defineCommand("beckonDevices", { lua: devicesScript, numberOfKeys: 1 });
    redis.defineCommand("beckonJoin", { lua: joinScript, numberOfKeys: 2 });
    redis.defineCommand("beckonMark", { lua: markScript, numberOfKeys: 2 });
    redis.defineCommand("beckonTakeOver", { lua: takeOverScript, numberOfKeys: 1 });
    redis.defineCommand("beckonTouch", { lua: touchScript, numberOfKeys: 1 });
    redis.defineCommand("beckonLeave", { lua: leaveScript, numberOfKeys: 1 });
    redis.defineCommand("beckonRestore", { lua: restoreScript, numberOfKeys: 1 });
    const presence = new RedisPresence(redis, options);
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
    return `${this.prefix}p:${userID}`;
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
    const flat = (await this.script("beckonDevices").call(
      this.redis,
      this.key(userID),
    )) as string[];
    return this.unflatten(userID, flat);
  }

  async join(device: DeviceState, maxDevices: number): Promise<DeviceState[]> {
    if (!Number.isSafeInteger(maxDevices) || maxDevices < 1)
      throw new Error(`maxDevices must be a positive integer, not ${maxDevices}`);
    if (!isTime(device.loginTime) || !isTime(device.awaySince))
      throw new Error("loginTime and awaySince must be epoch milliseconds");
    const flat = (await this.script("beckonJoin").call(
      this.redis,
      this.key(device.userID),
      this.usersKey(device.nodeID),
      device.deviceID,
      device.nodeID,
      device.loginTime,
      device.awaySince,
      this.leaseMs,
      maxDevices,
      device.userID,
    )) as string[];
    this.hold(device);
    const evicted = this.unflatten(device.userID, flat);
    for (const other of evicted) this.release(other);
    return evicted;
  }

  async mark(device: DeviceRef, nodeID: string, awaySince: number): Promise<void> {
    if (!isTime(awaySince)) throw new Error("awaySince must be epoch milliseconds");
    const loginTime = (await this.script("beckonMark").call(
      this.redis,
      this.key(device.userID),
      this.usersKey(nodeID),
      device.deviceID,
      nodeID,
      awaySince,
      this.leaseMs,
      device.userID,
    )) as string | null;
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
    // One round trip for a whole heartbeat sweep.
    const pipeline = this.redis.pipeline();
    const touch = (pipeline as unknown as Record<string, (...args: Array<string | number>) => void>)
      .beckonTouch as (...args: Array<string | number>) => void;
    for (const [userID, deviceIDs] of byUser)
      touch.call(pipeline, this.key(userID), this.leaseMs, nodeID, ...deviceIDs);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error !== null);
    if (failed) throw failed[0];
  }

  async leave(device: DeviceRef, loginTime: number): Promise<void> {
    await this.script("beckonLeave").call(
      this.redis,
      this.key(device.userID),
      device.deviceID,
      loginTime,
    );
    this.release(device, loginTime);
  }

  async close(): Promise<void> {
    clearInterval(this.refresher);
    clearTimeout(this.publishedFlush);
    this.flushPublished();
    await this.redis.quit().catch(() => {});
  }
}
