// A load process for scenarios 3–5: logs in many devices of one system and keeps them idle,
// noting (for Beckon) the invitations they are shown and the timeouts they get.
import { BeckonClient } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import { io, type Socket } from "socket.io-client";
import { serveCommands } from "../bench-child.js";
import { mapLimited, openRelaySocket, type PeerTarget } from "./call-peers.js";

interface ConnectArgs {
  target: PeerTarget;
  userIDs: string[];
  concurrency: number;
}

export interface TimeoutReport {
  /** Calls this process was shown an invitation of. */
  invitations: number;
  /** Arrival of callInvitationTimeout minus the invitation's deadline, ms, first arrival. */
  lateness: number[];
  /** Calls with exactly one / more than one timeout event, and shown calls with none. */
  exactlyOnce: number;
  duplicated: number;
  missing: number;
}

const closers: Array<() => void> = [];
const deadlines = new Map<string, number>();
const timeouts = new Map<string, number[]>();

async function connectBeckon(target: PeerTarget, userID: string, token: string) {
  const client = new BeckonClient({ url: target.url, requestTimeoutMs: 120_000 });
  client.on("callInvitationReceived", (_client, data) => {
    deadlines.set(data.callID, data.deadline);
  });
  client.on("callInvitationTimeout", (_client, data) => {
    const list = timeouts.get(data.callID);
    if (list) list.push(Date.now());
    else timeouts.set(data.callID, [Date.now()]);
  });
  await client.login(userID, { token });
  closers.push(() => void client.destroy());
}

async function connectBare(target: PeerTarget, userID: string) {
  const socket = await openRelaySocket(target, userID);
  closers.push(() => socket.terminate());
}

async function connectSocketIo(target: PeerTarget, userID: string) {
  const socket: Socket = io(target.url, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    auth: { userID },
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  closers.push(() => socket.disconnect());
}

/** Tokens are minted first, so the timed part is connecting and logging in alone. */
async function prepare({ target, userIDs }: ConnectArgs): Promise<string[]> {
  if (target.system !== "beckon") return [];
  const secret = target.secret ?? "";
  return Promise.all(userIDs.map((userID) => signToken({ secret, userID, ttlSeconds: 6 * 3600 })));
}

let tokens: string[] = [];

async function mint(args: ConnectArgs) {
  tokens = await prepare(args);
  return { tokens: tokens.length };
}

async function connect({ target, userIDs, concurrency }: ConnectArgs) {
  const started = performance.now();
  let failures = 0;
  let firstError: string | null = null;
  await mapLimited(userIDs, concurrency, async (userID, i) => {
    try {
      if (target.system === "beckon") await connectBeckon(target, userID, tokens[i] ?? "");
      else if (target.system === "ws-relay") await connectBare(target, userID);
      else await connectSocketIo(target, userID);
    } catch (error) {
      failures += 1;
      firstError ??= error instanceof Error ? error.message : JSON.stringify(error);
    }
  });
  return { ms: performance.now() - started, failures, firstError };
}

function timeoutReport(): TimeoutReport {
  const report: TimeoutReport = {
    invitations: deadlines.size,
    lateness: [],
    exactlyOnce: 0,
    duplicated: 0,
    missing: 0,
  };
  for (const [callID, deadline] of deadlines) {
    const arrivals = timeouts.get(callID);
    if (!arrivals) {
      report.missing += 1;
      continue;
    }
    if (arrivals.length === 1) report.exactlyOnce += 1;
    else report.duplicated += 1;
    report.lateness.push((arrivals[0] as number) - deadline);
  }
  return report;
}

async function close() {
  for (const closeOne of closers) closeOne();
  closers.length = 0;
  return {};
}

serveCommands({ mint, connect, timeoutReport, close }, { pid: process.pid });
