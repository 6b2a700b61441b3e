// The fault suite: three `beckon start` processes on a PostgreSQL and a Redis of the suite's own,
// each user's devices spread over the nodes behind failover balancers, under steady ringing.
// In turn: a Redis restart, a PostgreSQL restart, a 5 s stall of Redis, kill -9 of a node (last,
// so the cluster needs no restart).
// After each: every acknowledged operation is in the store (read through the server API), every
// device that stays connected gets each event once and never an invitation after its deadline,
// every deadline fires exactly once, no node has exited or logged an uncaught error, and every
// pair's ringing resumes within RESUME_BOUND_MS of the fault's end.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CallEventMap,
  type CallEventName,
  CallUserState,
  callEventNames,
  ErrorCode,
} from "@beckon/protocol";
import { BeckonClient } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runApikeyCommand } from "../src/cli-apikey.js";
import { assertBuilt, type RunningBeckon, startBeckon, stopAll } from "./support/beckon-process.js";
import {
  canRunOwnServices,
  type OwnPostgres,
  type OwnRedis,
  startOwnPostgres,
  startOwnRedis,
} from "./support/own-services.js";
import { startTcpProxy, type TcpProxy } from "./support/tcp-proxy.js";
import { SECRET } from "./support/world.js";

/** After a fault is over, every pair's callee rings again within this. */
const RESUME_BOUND_MS = 20_000;
/** Ring time of the suite's calls: short, so deadlines keep firing during every fault. */
const CALL_TIMEOUT_S = 3;
const PAIRS = 6;

const available = canRunOwnServices();

interface Received {
  name: CallEventName;
  data: CallEventMap[CallEventName] & { callID: string };
  at: number;
}

/** One SDK device and everything it was told, with when. */
class Device {
  readonly log: Received[] = [];
  private readonly waiters = new Set<() => void>();
  readonly client: BeckonClient;

  constructor(
    readonly userID: string,
    readonly deviceID: string,
    url: string,
  ) {
    this.client = new BeckonClient({
      url,
      deviceID,
      reconnect: { minDelayMs: 50, maxDelayMs: 500 },
      requestTimeoutMs: 10_000,
    });
    this.client.on("connectionStateChanged", (_client, data) => {
      this.log.push({
        name: "connectionStateChanged" as CallEventName,
        data: { callID: "", ...data } as unknown as Received["data"],
        at: Date.now(),
      });
    });
    for (const name of callEventNames) {
      this.client.on(name, (_client, data) => {
        this.log.push({ name, data: data as Received["data"], at: Date.now() });
        for (const wake of this.waiters) wake();
      });
    }
  }

  async login(): Promise<void> {
    await this.client.login(this.userID, {
      token: await signToken({ secret: SECRET, userID: this.userID, ttlSeconds: 3_600 }),
    });
  }

  /** Resolves with the first matching event, or null after `timeoutMs`. */
  async waitFor(name: CallEventName, callID: string, timeoutMs: number): Promise<Received | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.log.find((e) => e.name === name && e.data.callID === callID);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  events(name: CallEventName, callID: string): Received[] {
    return this.log.filter((e) => e.name === name && e.data.callID === callID);
  }
}

interface Pair {
  caller: Device;
  /** The callee device that answers, and its twin on another node that only listens. */
  answerer: Device;
  twin: Device;
  /** When the callee last rang (an invitation reached the answerer). */
  rangAt: number;
}

/** What a user was told succeeded: its call must show it. */
interface Acknowledged {
  callID: string;
  userID: string;
  state: CallUserState | "created";
}

interface Node {
  process: RunningBeckon;
  output: string;
  port: number;
}

function isAlive(node: Node): boolean {
  return node.process.child.exitCode === null && node.process.child.signalCode === null;
}

describe.runIf(available)("cluster faults", () => {
  let postgres: OwnPostgres;
  let redis: OwnRedis;
  let store: string;
  let redisUrl: string;
  let adminKey: string;
  let dataDir: string;
  const nodes: Node[] = [];
  const balancers: TcpProxy[] = [];
  const pairs: Pair[] = [];
  const devices: Device[] = [];
  /** Calls made in the current phase, and what was acknowledged about them. */
  let made: string[] = [];
  let acknowledged: Acknowledged[] = [];
  let running = false;
  /** What the current phase cost: invites refused as retryable (6000102) or failing otherwise. */
  const figures = { refused: 0, failed: 0 };
  let traffic: Promise<void> = Promise.resolve();
  const ringWaiters = new Set<() => void>();

  async function startNode(index: number): Promise<Node> {
    const dir = join(dataDir, `node-${index}-${Date.now()}`);
    const started = await startBeckon(
      [
        "--production",
        "--data",
        dir,
        "--port",
        "0",
        "--store",
        store,
        "--redis",
        redisUrl,
        "--heartbeat-interval-ms",
        "1000",
        "--caller-grace-ms",
        "60000",
        "--member-grace-ms",
        "60000",
      ],
      { ...process.env, BECKON_SECRET: SECRET },
    );
    const node: Node = {
      process: started,
      output: started.banner,
      port: Number(new URL(started.httpUrl).port),
    };
    started.child.stdout?.on("data", (chunk: Buffer) => {
      node.output += chunk.toString();
    });
    started.child.stderr?.on("data", (chunk: Buffer) => {
      node.output += chunk.toString();
    });
    return node;
  }

  beforeAll(async () => {
    assertBuilt();
    dataDir = mkdtempSync(join(tmpdir(), "beckon-faults-"));
    [postgres, redis] = await Promise.all([startOwnPostgres(), startOwnRedis()]);
    store = `${postgres.url}?schema=faults`;
    redisUrl = `${redis.url}?prefix=faults:`;
    const created = await runApikeyCommand(["create", "faults", "--scopes", "read"], {
      dataDir,
      store,
    });
    expect(created.exitCode).toBe(0);
    adminKey = /bk_[A-Za-z0-9_-]+/.exec(created.output)?.[0] as string;
    nodes.push(...(await Promise.all([0, 1, 2].map((i) => startNode(i)))));
    for (const node of nodes) balancers.push(await startTcpProxy(node.port));
    for (let i = 0; i < PAIRS; i++) {
      const via = (k: number) => (balancers[(i + k) % 3] as TcpProxy).url;
      const pair: Pair = {
        caller: new Device(`caller${i}`, "phone", via(0)),
        answerer: new Device(`callee${i}`, "phone", via(1)),
        twin: new Device(`callee${i}`, "laptop", via(2)),
        rangAt: 0,
      };
      pairs.push(pair);
      devices.push(pair.caller, pair.answerer, pair.twin);
    }
    await Promise.all(devices.map((device) => device.login()));
  }, 60_000);

  afterAll(async () => {
    if (process.env.BECKON_FAULTS_DUMP)
      (await import("node:fs")).writeFileSync(
        process.env.BECKON_FAULTS_DUMP,
        nodes.map((n, i) => `=== node ${i}\n${n.output}`).join("\n"),
      );
    running = false;
    await traffic;
    await Promise.all(devices.map((device) => device.client.destroy().catch(() => {})));
    for (const balancer of balancers) await balancer.close();
    await stopAll();
    await Promise.all([postgres?.stop(), redis?.stop()]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** One pair's calls, round after round: accepted and hung up, rejected, or left to time out. */
  async function ring(pair: Pair, index: number): Promise<void> {
    const { caller, answerer } = pair;
    let lastCall: string | null = null;
    for (let round = 0; running; round++) {
      let callID: string;
      try {
        ({ callID } = await caller.client.callInvite([answerer.userID], {
          timeout: CALL_TIMEOUT_S,
        }));
      } catch (error) {
        const code = (error as { code?: number }).code;
        if (code === ErrorCode.ServiceUnavailable) figures.refused++;
        else figures.failed++;
        // A hang-up whose reply was lost leaves the caller in its call: end that one first.
        if (code === ErrorCode.CallCommonError && lastCall)
          await caller.client.callEnd(lastCall, {}).catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      lastCall = callID;
      made.push(callID);
      acknowledged.push({ callID, userID: caller.userID, state: "created" });
      const rang = await answerer.waitFor(
        "callInvitationReceived",
        callID,
        CALL_TIMEOUT_S * 1_000 + 2_000,
      );
      if (!rang) continue;
      pair.rangAt = rang.at;
      for (const wake of ringWaiters) wake();
      const choice = (round + index) % 3;
      try {
        if (choice === 0) {
          await answerer.client.callAccept(callID, {});
          acknowledged.push({ callID, userID: answerer.userID, state: CallUserState.Accepted });
          await caller.client.callQuit(callID, {});
          acknowledged.push({ callID, userID: caller.userID, state: CallUserState.Quit });
        } else if (choice === 1) {
          await answerer.client.callReject(callID, {});
          acknowledged.push({ callID, userID: answerer.userID, state: CallUserState.Rejected });
        } else {
          await answerer.waitFor("callInvitationTimeout", callID, CALL_TIMEOUT_S * 1_000 + 5_000);
        }
      } catch {
        // In flight during the fault: the outcome is unknown, so nothing was acknowledged.
      }
    }
  }

  function startTraffic(): void {
    made = [];
    acknowledged = [];
    running = true;
    traffic = Promise.all(pairs.map((pair, i) => ring(pair, i))).then(() => undefined);
  }

  /** Resolves once every pair's callee rang after `since`; throws after RESUME_BOUND_MS. */
  async function everyPairRingsAfter(since: number): Promise<void> {
    const deadline = Date.now() + RESUME_BOUND_MS;
    while (!pairs.every((pair) => pair.rangAt > since)) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const late = pairs
          .filter((pair) => pair.rangAt <= since)
          .map(
            (p) =>
              `${p.caller.userID} (answerer ${p.answerer.client.connectionState}, twin ${p.twin.client.connectionState}: ${JSON.stringify(p.answerer.log.slice(-4).map((e) => [e.name, e.at]))} ${JSON.stringify(p.twin.log.slice(-4).map((e) => [e.name, e.at]))})`,
          );
        throw new Error(`no ring within ${RESUME_BOUND_MS} ms of the fault's end for ${late}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          ringWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        ringWaiters.add(wake);
      });
    }
  }

  async function api<T>(path: string): Promise<T> {
    const node = nodes.find(isAlive) as Node;
    const response = await fetch(`${node.process.httpUrl}${path}`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  }

  interface CallView {
    callID: string;
    caller: string;
    members: Array<{ userID: string; state: CallUserState }>;
    timeline: Array<{ kind: string; userID?: string }>;
  }

  /** The fault in between steady traffic, then every check on what the phase did. */
  async function phase(
    name: string,
    fault: () => Promise<void>,
    expectedLive: number,
  ): Promise<void> {
    startTraffic();
    figures.refused = 0;
    figures.failed = 0;
    // Traffic is flowing before the fault.
    await everyPairRingsAfter(Date.now());
    const started = Date.now();
    await fault();
    const over = Date.now();
    await everyPairRingsAfter(over);
    const resumed = Date.now();
    running = false;
    await traffic;
    // The figures docs/cluster.md and bench/RESULTS.md quote.
    process.stderr.write(
      `fault suite: ${name}: fault ${over - started} ms; every pair rang again ${resumed - over} ms after it; ` +
        `${new Set(made).size} calls acknowledged, ${figures.refused} invites refused with 6000102, ${figures.failed} failed otherwise\n`,
    );

    // No node exited but those the fault killed, and none logged an uncaught error.
    const live = nodes.filter(isAlive);
    expect(live).toHaveLength(expectedLive);
    for (const node of nodes) {
      expect(node.output).not.toContain("uncaught exception");
      expect(node.output).not.toContain("unhandled promise rejection");
    }

    // Every acknowledged operation is in the store.
    const calls = new Map<string, CallView>();
    for (const callID of new Set(made)) {
      calls.set(callID, await api<CallView>(`/api/calls/${encodeURIComponent(callID)}`));
    }
    const last = new Map<string, Acknowledged>();
    for (const ack of acknowledged) last.set(`${ack.callID} ${ack.userID}`, ack);
    for (const { callID, userID, state } of last.values()) {
      const call = calls.get(callID);
      expect(call, callID).toBeDefined();
      if (state === "created") expect(call?.caller).toBe(userID);
      else expect(call?.members.find((m) => m.userID === userID)?.state, callID).toBe(state);
    }

    // Every deadline fired exactly once.
    for (const call of calls.values()) {
      const timedOut = call.timeline.filter((entry) => entry.kind === "member.timedOut");
      const members = call.members.filter((m) => m.state === CallUserState.Timeout);
      expect(timedOut.length, call.callID).toBe(members.length);
    }

    // Each event once per device, and no invitation after its deadline.
    for (const device of devices) {
      const seen = new Set<string>();
      for (const event of device.log) {
        if (!calls.has(event.data.callID)) continue;
        const key = `${event.name} ${JSON.stringify(event.data)}`;
        const story = () =>
          JSON.stringify(
            device.log
              .filter((e) => e.data.callID === event.data.callID || e.data.callID === "")
              .map((e) => [e.name, e.at]),
          );
        expect(
          seen.has(key),
          `${device.userID}/${device.deviceID} got twice: ${key} ${story()}`,
        ).toBe(false);
        seen.add(key);
        if (event.name === "callInvitationReceived") {
          const { deadline } = event.data as CallEventMap["callInvitationReceived"];
          expect(event.at, `${event.data.callID} rang after its deadline`).toBeLessThanOrEqual(
            deadline,
          );
        }
      }
      for (const callID of calls.keys()) {
        expect(device.events("callInvitationReceived", callID).length).toBeLessThanOrEqual(1);
        const closing = ["callInvitationTimeout", "callInvitationCancelled", "callInvitationEnded"];
        for (const name of closing)
          expect(device.events(name as CallEventName, callID).length).toBeLessThanOrEqual(1);
      }
    }
    // The callees that timed out heard so on both devices.
    for (const pair of pairs) {
      for (const call of calls.values()) {
        const member = call.members.find((m) => m.userID === pair.answerer.userID);
        if (member?.state !== CallUserState.Timeout) continue;
        for (const device of [pair.answerer, pair.twin]) {
          if (device.events("callInvitationReceived", call.callID).length === 0) continue;
          const told = await device.waitFor("callInvitationTimeout", call.callID, 5_000);
          expect(told, `${device.deviceID} of ${device.userID}: ${call.callID}`).not.toBeNull();
        }
      }
    }
  }

  it("a Redis restart", async () => {
    await phase("Redis restart", () => redis.restart(500), 3);
  }, 90_000);

  it("a PostgreSQL restart", async () => {
    await phase("PostgreSQL restart", () => postgres.restart(1_000), 3);
  }, 90_000);

  it("a 5 s stall of Redis", async () => {
    await phase("Redis stalled 5 s", () => redis.stall(5_000), 3);
  }, 90_000);

  it("kill -9 of a node", async () => {
    await phase(
      "kill -9 of a node",
      async () => {
        const victim = nodes[0] as Node;
        victim.process.child.kill("SIGKILL");
        await new Promise((resolve) => victim.process.child.once("exit", resolve));
        // The balancer fails over to the next node; the devices there resume.
        balancers[0]?.retarget((nodes[1] as Node).port);
        balancers[0]?.cut();
      },
      2,
    );
  }, 90_000);
});
