// A load process for scenario 0, the realistic workload: many users with two devices each, all
// logged in and heartbeating, ringing each other at a fixed offered rate. One call is what an app
// does: invite -> both callee devices ring and acknowledge (receipt) -> one device accepts -> the
// other stops ringing -> the caller sees the accept. Both systems are driven the same way.
// Optionally (Beckon only) some calls also invite a user with no device online, with a
// pushConfig, and end instead with the caller's cancel a while after the callee's receipt: the
// offline invitee is pushed the invitation and then the cancel.
import { BeckonClient, ZIMCallInvitationMode, ZIMCallUserState } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import type { WebSocket } from "ws";
import { serveCommands } from "../bench-child.js";
import { mapLimited, openRelaySocket, type PeerTarget } from "./call-peers.js";

/** One user of either system: its devices, seen through a common shape. */
interface User {
  userID: string;
  /**
   * Rings `callee` (and `offlineID`, if given) from device 0; resolves with the callID once the
   * server took the invitation.
   */
  invite(callee: User, offlineID?: string): Promise<string>;
  /** Cancels a call this user made; resolves once the server confirmed. */
  cancel(callID: string): Promise<void>;
  close(): Promise<void>;
}

/** What a call in flight waits for; set by the caller side, settled by events. */
interface Pending {
  sentAt: number;
  rangAt: number;
  measured: boolean;
  /** The caller cancels this call (after the callee's receipt) instead of the callee accepting. */
  cancels: boolean;
  /** The caller saw the callee's receipt. */
  receipt: () => void;
  done: () => void;
}

export interface WorkloadArgs {
  rate: number;
  warmupMs: number;
  durationMs: number;
  /**
   * Every `every`-th call also invites one of `userIDs` (no device online), with a pushConfig,
   * and the caller cancels it `cancelAfterMs` after the callee's receipt.
   */
  offline?: { userIDs: string[]; every: number; cancelAfterMs: number };
}

export interface WorkloadResult {
  sent: number;
  completed: number;
  /**
   * Calls that completed inside the measured window, whenever they started: the work a window
   * holds is divided by these for a cost per call.
   */
  finishedInWindow: number;
  skipped: number;
  errors: number;
  /** Invitations the server refused as busy (6000020): not calls, and not errors. */
  refused: number;
  unfinished: number;
  /** Calls sent in the measured window that also invited an offline user (cancelled). */
  offlineCalls: number;
  firstError: string | null;
  /** Invite sent -> first callee device rings. */
  ringMs: number[];
  /** Invite sent -> the caller learns of the accept (or its cancel is confirmed). */
  callMs: number[];
}

/** What an offline invitee's registered devices are pushed (ZIM's pushConfig). */
const PUSH_CONFIG = { title: "Incoming call", content: "Tap to answer", payload: '{"bench":1}' };
const CANCEL_PUSH_CONFIG = { title: "Missed call", content: "", payload: '{"bench":1}' };

const DEVICES = 2;
/** ErrorCode.ServerBusy: the node refused the invitation under load (nothing was done). */
const SERVER_BUSY = 6000020;
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
      if (pending?.cancels) return;
      main.callAccept(data.callID, { extendedData: "" }).catch(() => undefined);
    });
    other.on("callInvitationReceived", () => {
      const pending = ringing.get(userID);
      if (pending && pending.rangAt === 0) pending.rangAt = performance.now();
    });
  } else {
    main.on("callUserStateChanged", (_c, data) => {
      for (const user of data.callUserList) {
        if (user.userID === userID) continue;
        const pending = ringing.get(user.userID);
        if (user.state === ZIMCallUserState.Accepted) pending?.done();
        else if (user.state === ZIMCallUserState.Received) pending?.receipt();
      }
    });
  }
  await Promise.all(devices.map((device) => device.login(userID, { token })));
  return {
    userID,
    invite: async (callee, offlineID) => {
      const { callID } = await main.callInvite(
        offlineID ? [callee.userID, offlineID] : [callee.userID],
        {
          timeout: 60,
          mode: ZIMCallInvitationMode.General,
          extendedData: "",
          ...(offlineID ? { pushConfig: PUSH_CONFIG } : {}),
        },
      );
      return callID;
    },
    cancel: async (callID) => {
      await main.callCancel([], callID, { extendedData: "", pushConfig: CANCEL_PUSH_CONFIG });
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
    invite: async (callee, offlineID) => {
      if (offlineID) throw new Error("the relay baseline has no offline invitees");
      for (let d = 0; d < DEVICES; d++) {
        send(sockets[0] as WebSocket, {
          to: `${callee.userID}.d${d}`,
          type: "invite",
          from: `${userID}.d0`,
        });
      }
      return "";
    },
    cancel: async () => {
      throw new Error("the relay baseline has no cancel");
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

function run({ rate, warmupMs, durationMs, offline }: WorkloadArgs): Promise<WorkloadResult> {
  const free = callers.map((_, i) => i);
  const result: WorkloadResult = {
    sent: 0,
    completed: 0,
    finishedInWindow: 0,
    skipped: 0,
    errors: 0,
    refused: 0,
    unfinished: 0,
    offlineCalls: 0,
    firstError: null,
    ringMs: [],
    callMs: [],
  };
  const start = performance.now();
  const measureFrom = start + warmupMs;
  const end = measureFrom + durationMs;
  let scheduled = 0;
  let offlineNext = 0;
  const fail = (error: unknown) => {
    result.errors += 1;
    result.firstError ??= errorText(error);
  };
  const launch = (pair: number, measured: boolean, offlineID: string | undefined) => {
    const caller = callers[pair] as User;
    const callee = callees[pair] as User;
    let settled = false;
    let callID: string | null = null;
    let receipted = false;
    let cancelTimer: NodeJS.Timeout | undefined;
    const release = () => {
      if (settled) return;
      settled = true;
      clearTimeout(cancelTimer);
      ringing.delete(callee.userID);
      free.push(pair);
    };
    // The caller lets the call ring a while (so the offline invitee's push is queued, as when a
    // real callee takes seconds to answer) and then hangs up.
    const cancelLater = () => {
      if (!offline || callID === null || !receipted || cancelTimer || settled) return;
      const id = callID;
      cancelTimer = setTimeout(() => {
        caller.cancel(id).then(
          () => pending.done(),
          (error: unknown) => {
            fail(error);
            release();
          },
        );
      }, offline.cancelAfterMs);
    };
    const pending: Pending = {
      sentAt: performance.now(),
      rangAt: 0,
      measured,
      cancels: offlineID !== undefined,
      receipt: () => {
        if (!pending.cancels) return;
        receipted = true;
        cancelLater();
      },
      done: () => {
        if (settled) return;
        const now = performance.now();
        if (now >= measureFrom && now <= end) result.finishedInWindow += 1;
        if (measured) {
          if (pending.rangAt > 0) result.ringMs.push(pending.rangAt - pending.sentAt);
          result.callMs.push(now - pending.sentAt);
          if (now <= end) result.completed += 1;
        }
        release();
      },
    };
    ringing.set(callee.userID, pending);
    caller.invite(callee, offlineID).then(
      (id) => {
        callID = id;
        cancelLater();
      },
      (error: unknown) => {
        if ((error as { code?: number }).code === SERVER_BUSY) {
          if (measured) result.refused += 1;
        } else fail(error);
        release();
      },
    );
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
        let offlineID: string | undefined;
        if (offline && scheduled % offline.every === 0) {
          offlineID = offline.userIDs[offlineNext++ % offline.userIDs.length];
          if (measured) result.offlineCalls += 1;
        }
        if (measured) result.sent += 1;
        launch(pair, measured, offlineID);
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
