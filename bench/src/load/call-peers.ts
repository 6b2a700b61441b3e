// One user of a system under test, seen the same way whatever the system: it can ring another
// user, hear an invitation, and answer one. The call load drives all three systems through this.
import { BeckonClient, ZIMCallInvitationMode } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import { io } from "socket.io-client";
import { WebSocket } from "ws";

export type SystemName = "beckon" | "ws-relay" | "socketio";

export interface CallPeer {
  readonly userID: string;
  /** Rings `calleeID`; resolves when the server has taken the invitation. */
  invite(calleeID: string): Promise<void>;
  /** Answers an invitation; resolves once the call is settled on the server. */
  answer(callID: string, accept: boolean): Promise<void>;
  /** The one listener for invitations to this peer. */
  onInvitation(handler: (callID: string) => void): void;
  close(): Promise<void>;
}

export interface PeerTarget {
  system: SystemName;
  url: string;
  /** Beckon only: the token-signing secret shared with the server. */
  secret?: string;
}

const RING_TIMEOUT_SECONDS = 60;

async function beckonPeer(target: PeerTarget, userID: string): Promise<CallPeer> {
  const token = await signToken({ secret: target.secret ?? "", userID, ttlSeconds: 6 * 3600 });
  const client = new BeckonClient({ url: target.url, requestTimeoutMs: 60_000 });
  let handler: ((callID: string) => void) | null = null;
  client.on("callInvitationReceived", (_client, data) => handler?.(data.callID));
  await client.login(userID, { token });
  return {
    userID,
    invite: async (calleeID) => {
      await client.callInvite([calleeID], {
        timeout: RING_TIMEOUT_SECONDS,
        mode: ZIMCallInvitationMode.General,
        extendedData: "",
      });
    },
    answer: async (callID, accept) => {
      if (accept) await client.callAccept(callID, { extendedData: "" });
      else await client.callReject(callID, { extendedData: "" });
    },
    onInvitation: (next) => {
      handler = next;
    },
    close: () => client.destroy(),
  };
}

/** Baseline A's answers travel back through the relay; the caller's socket settles them. */
const relayAnswers = new Map<string, () => void>();

/**
 * Baseline A's sockets heartbeat as Beckon's SDK does with the server's default (SPEC §5), and
 * the relay answers each ping, so idle and loaded runs compare like with like.
 */
export const RELAY_HEARTBEAT_MS = 10_000;

/** A bare socket to baseline A's relay, open, heartbeating, errors swallowed (the relay only drops). */
export async function openRelaySocket(target: PeerTarget, userID: string): Promise<WebSocket> {
  const socket = new WebSocket(`${target.url}?u=${encodeURIComponent(userID)}`, {
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  let beats = 0;
  const heartbeat = setInterval(() => {
    beats += 1;
    if (socket.readyState === socket.OPEN) socket.send(`{"ping":${beats}}`);
  }, RELAY_HEARTBEAT_MS);
  heartbeat.unref();
  socket.once("close", () => clearInterval(heartbeat));
  return socket;
}

async function relayPeer(target: PeerTarget, userID: string): Promise<CallPeer> {
  const socket = await openRelaySocket(target, userID);
  let handler: ((callID: string) => void) | null = null;
  let sequence = 0;
  socket.on("message", (raw) => {
    const message = JSON.parse(raw.toString()) as { type: string; callID: string };
    if (message.type === "invite") handler?.(message.callID);
    else if (message.type === "answer") {
      relayAnswers.get(message.callID)?.();
      relayAnswers.delete(message.callID);
    }
  });
  return {
    userID,
    invite: async (calleeID) => {
      sequence += 1;
      const callID = `${userID}/${sequence}`;
      socket.send(JSON.stringify({ to: calleeID, type: "invite", from: userID, callID }));
    },
    answer: (callID, accept) =>
      new Promise<void>((resolve) => {
        relayAnswers.set(callID, resolve);
        const caller = callID.slice(0, callID.lastIndexOf("/"));
        socket.send(JSON.stringify({ to: caller, type: "answer", callID, accept }));
      }),
    onInvitation: (next) => {
      handler = next;
    },
    close: async () => {
      socket.terminate();
    },
  };
}

async function socketIoPeer(target: PeerTarget, userID: string): Promise<CallPeer> {
  const socket = io(target.url, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    auth: { userID },
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("connect_error", reject);
  });
  let handler: ((callID: string) => void) | null = null;
  socket.on("callInvitationReceived", (data: { callID: string }) => handler?.(data.callID));
  const request = async (event: string, data: unknown) => {
    const reply = (await socket.emitWithAck(event, data)) as { error?: string };
    if (reply.error) throw new Error(`${event}: ${reply.error}`);
  };
  return {
    userID,
    invite: (calleeID) =>
      request("invite", { invitees: [calleeID], timeout: RING_TIMEOUT_SECONDS, extendedData: "" }),
    answer: (callID, accept) => request(accept ? "accept" : "reject", { callID, extendedData: "" }),
    onInvitation: (next) => {
      handler = next;
    },
    close: async () => {
      socket.disconnect();
    },
  };
}

export function connectPeer(target: PeerTarget, userID: string): Promise<CallPeer> {
  switch (target.system) {
    case "beckon":
      return beckonPeer(target, userID);
    case "ws-relay":
      return relayPeer(target, userID);
    case "socketio":
      return socketIoPeer(target, userID);
  }
}

/** Runs `task` over `items` with at most `limit` in flight; resolves with results in order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
