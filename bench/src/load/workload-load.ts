// A load process for scenario 0, the realistic workload: many users with two devices each, all
// logged in and heartbeating, ringing each other at a fixed offered rate. One call is what an app
// does: invite -> both callee devices ring and acknowledge (receipt) -> one device accepts -> the
// other stops ringing -> the caller sees the accept. Both systems are driven the same way.
import { BeckonClient, ZIMCallInvitationMode, ZIMCallUserState } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import type { WebSocket } from "ws";
import { serveCommands } from "../bench-child.js";
import { mapLimited, openRelaySocket, type PeerTarget } from "./call-peers.js";

/** One user of either system: its devices, seen through a common shape. */
interface User {
  userID: string;
  /** Rings `callee` from device 0; resolves once the server took the invitation. */
  invite(callee: User): Promise<void>;
  close(): Promise<void>;
}

/** What a call in flight waits for; set by the caller side, settled by events. */
interface Pending {
  sentAt: number;
  rangAt: number;
  measured: boolean;
  done: () => void;
}

export interface WorkloadArgs {
  rate: number;
  warmupMs: number;
  durationMs: number;
}

export interface WorkloadResult {
  sent: number;
  completed: number;
  skipped: number;
  errors: number;
  unfinished: number;
  firstError: string | null;
  /** Invite sent -> first callee device rings. */
  ringMs: number[];
  /** Invite sent -> the caller learns of the accept. */
  callMs: number[];
}

const DEVICES = 2;
const callers: User[] = [];
const callees: User[] = [];
/** By callee userID: the call ringing it (one at a time per pair). */
const ringing = new Map<string, Pending>();

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === "object" ? JSON.stringify(error) : String(error);
}

/** Cluster runs: each new device takes the next node, so a user's devices sit on different nodes. */
let nodeTargets: PeerTarget[] = [];
let nextNode = 0;

function nextTarget(fallback: PeerTarget): PeerTarget {
  if (nodeTargets.length === 0) return fallback;
  const target = nodeTargets[nextNode % nodeTargets.length] as PeerTarget;
  nextNode += 1;
  return target;
}

async function beckonUser(target: PeerTarget, userID: string, answers: boolean): Promise<User> {
  const token = await signToken({ secret: target.secret ?? "", userID, ttlSeconds: 6 * 3600 });
  const devices = Array.from(
    { length: DEVICES },
    (_, d) =>
      new BeckonClient({
        url: nextTarget(target).url,
        deviceID: `${userID}-d${d}`,
        requestTimeoutMs: 60_000,
      }),
  );
  const [main, other] = devices as [BeckonClient, BeckonClient];
  if (answers) {
    // Both devices ring; the SDK acknowledges each (the receipt); the main device answers.
    main.on("callInvitationReceived", (_c, data) => {
      const pending = ringing.get(userID);
      if (pending && pending.rangAt === 0) pending.rangAt = performance.now();
      main.callAccept(data.callID, { extendedData: "" }).catch(() => undefined);
    });
    other.on("callInvitationReceived", () => {
      const pending = ringing.get(userID);
      if (pending && pending.rangAt === 0) pending.rangAt = performance.now();
    });
  } else {
    main.on("callUserStateChanged", (_c, data) => {
      for (const user of data.callUserList) {
        if (user.state !== ZIMCallUserState.Accepted || user.userID === userID) continue;
        const pending = ringing.get(user.userID);
        if (pending) pending.done();
      }
    });
  }
  await Promise.all(devices.map((device) => device.login(userID, { token })));
  return {
    userID,
    invite: async (callee) => {
      await main.callInvite([callee.userID], {
        timeout: 60,
        mode: ZIMCallInvitationMode.General,
        extendedData: "",
      });
    },
    close: async () => {
      await Promise.all(devices.map((device) => device.destroy()));
    },
  };
}

/** Baseline A: the same messages a client-side signaling app would exchange over a relay. */
async function relayUser(target: PeerTarget, userID: string, answers: boolean): Promise<User> {
  const sockets: WebSocket[] = await Promise.all(
    Array.from({ length: DEVICES }, (_, d) => openRelaySocket(target, `${userID}.d${d}`)),
  );
  const send = (socket: WebSocket, message: object) => socket.send(JSON.stringify(message));
  sockets.forEach((socket, d) => {
    socket.on("message", (raw) => {
      const message = JSON.parse(raw.toString()) as { type: string; from: string; callee: string };
      if (message.type === "invite" && answers) {
        const pending = ringing.get(userID);
        if (pending && pending.rangAt === 0) pending.rangAt = performance.now();
        send(socket, { to: message.from, type: "receipt", callee: userID });
        if (d === 0) {
          send(socket, { to: message.from, type: "accept", callee: userID });
          send(socket, { to: `${userID}.d1`, type: "answered", callee: userID });
        }
      } else if (message.type === "accept" && !answers) {
        ringing.get(message.callee)?.done();
      }
    });
  });
  return {
    userID,
    invite: async (callee) => {
      for (let d = 0; d < DEVICES; d++) {
        send(sockets[0] as WebSocket, {
          to: `${callee.userID}.d${d}`,
          type: "invite",
          from: `${userID}.d0`,
        });
      }
    },
    close: async () => {
      for (const socket of sockets) socket.terminate();
    },
  };
}

async function connect(args: {
  target: PeerTarget;
  /** Several nodes of one cluster (same secret): devices are spread over them. */
  targets?: PeerTarget[];
  prefix: string;
  pairs: number;
  concurrency: number;
}) {
  const started = performance.now();
  nodeTargets = args.targets ?? [];
  nextNode = 0;
  const make = args.target.system === "beckon" ? beckonUser : relayUser;
  const made = await mapLimited(
    Array.from({ length: args.pairs }, (_, i) => i),
    args.concurrency,
    async (i) =>
      Promise.all([
        make(args.target, `${args.prefix}c${i}`, false),
        make(args.target, `${args.prefix}e${i}`, true),
      ]),
  );
  for (const [caller, callee] of made) {
    callers.push(caller);
    callees.push(callee);
  }
  return {
    users: 2 * made.length,
    devices: 2 * made.length * DEVICES,
    ms: performance.now() - started,
  };
}

function run({ rate, warmupMs, durationMs }: WorkloadArgs): Promise<WorkloadResult> {
  const free = callers.map((_, i) => i);
  const result: WorkloadResult = {
    sent: 0,
    completed: 0,
    skipped: 0,
    errors: 0,
    unfinished: 0,
    firstError: null,
    ringMs: [],
    callMs: [],
  };
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  let scheduled = 0;
  const launch = (pair: number, measured: boolean) => {
    const caller = callers[pair] as User;
    const callee = callees[pair] as User;
    let settled = false;
    const release = () => {
      if (settled) return;
      settled = true;
      ringing.delete(callee.userID);
      free.push(pair);
    };
    const pending: Pending = {
      sentAt: performance.now(),
      rangAt: 0,
      measured,
      done: () => {
        if (settled) return;
        const now = performance.now();
        if (measured) {
          if (pending.rangAt > 0) result.ringMs.push(pending.rangAt - pending.sentAt);
          result.callMs.push(now - pending.sentAt);
          if (now <= end) result.completed += 1;
        }
        release();
      },
    };
    ringing.set(callee.userID, pending);
    caller.invite(callee).catch((error: unknown) => {
      result.errors += 1;
      result.firstError ??= errorText(error);
      release();
    });
  };
  return new Promise<WorkloadResult>((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      if (now >= end) {
        clearInterval(timer);
        const giveUpAt = now + 20_000;
        const drain = setInterval(() => {
          if (free.length === callers.length || performance.now() > giveUpAt) {
            clearInterval(drain);
            result.unfinished = callers.length - free.length;
            resolve(result);
          }
        }, 20);
        return;
      }
      const due = Math.floor(((now - start) / 1000) * rate);
      for (; scheduled < due; scheduled++) {
        const measured = now >= measureFrom;
        const pair = free.pop();
        if (pair === undefined) {
          if (measured) result.skipped += 1;
          continue;
        }
        if (measured) result.sent += 1;
        launch(pair, measured);
      }
    }, 1);
  });
}

async function close() {
  await Promise.all([...callers, ...callees].map((user) => user.close()));
  callers.length = 0;
  callees.length = 0;
  return {};
}

serveCommands({ connect, run, close }, { pid: process.pid });
