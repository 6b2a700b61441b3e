// Baseline B, what a team would build instead of Beckon: a minimal call-invitation relay on
// Socket.IO with the state in in-memory maps. invite / accept / reject / cancel / per-invitee
// timeout, general-mode semantics (the call ends when nobody is left ringing), a busy caller,
// one room per user. No persistence, no receipts, no auth beyond the handshake's userID, no
// multi-device rules, nothing survives a restart.
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server, type Socket } from "socket.io";
import { serveCommands } from "../bench-child.js";
import { serverProbes } from "./server-probes.js";

type InviteeState = "inviting" | "accepted" | "rejected" | "cancelled" | "timeout";

interface Invitee {
  state: InviteeState;
  deadline: number;
  timer: NodeJS.Timeout | null;
}

interface Call {
  callID: string;
  caller: string;
  createTime: number;
  timeout: number;
  extendedData: string;
  invitees: Map<string, Invitee>;
}

type Ack = (reply: Record<string, unknown>) => void;

const USER_ID = /^[A-Za-z0-9_.:@-]{1,32}$/;
const calls = new Map<string, Call>();
/** Users that may not start a call: callers of a running call. */
const busy = new Set<string>();
const knownUsers = new Set<string>();

const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });

function stateList(call: Call) {
  return [...call.invitees].map(([userID, invitee]) => ({ userID, state: invitee.state }));
}

function tellOthers(call: Call, except: string, event: string, data: unknown): void {
  io.to(call.caller).emit(event, data);
  for (const [userID, invitee] of call.invitees) {
    if (userID !== except && (invitee.state === "inviting" || invitee.state === "accepted")) {
      io.to(userID).emit(event, data);
    }
  }
}

function endIfSettled(call: Call): void {
  for (const invitee of call.invitees.values()) if (invitee.state === "inviting") return;
  calls.delete(call.callID);
  busy.delete(call.caller);
}

function settle(call: Call, userID: string, state: InviteeState): void {
  const invitee = call.invitees.get(userID);
  if (!invitee) return;
  invitee.state = state;
  if (invitee.timer) clearTimeout(invitee.timer);
  invitee.timer = null;
}

function onTimeout(call: Call, userID: string): void {
  if (call.invitees.get(userID)?.state !== "inviting") return;
  settle(call, userID, "timeout");
  io.to(userID).emit("callInvitationTimeout", { callID: call.callID });
  tellOthers(call, userID, "callUserStateChanged", {
    callID: call.callID,
    callUserList: [{ userID, state: "timeout" }],
  });
  endIfSettled(call);
}

function invite(userID: string, request: unknown, ack: Ack): void {
  const { invitees, timeout = 90, extendedData = "" } = (request ?? {}) as Record<string, unknown>;
  if (
    !Array.isArray(invitees) ||
    invitees.length === 0 ||
    invitees.length > 9 ||
    typeof timeout !== "number" ||
    timeout < 1 ||
    timeout > 600 ||
    typeof extendedData !== "string"
  ) {
    ack({ error: "invalid request" });
    return;
  }
  if (busy.has(userID)) {
    ack({ error: "busy" });
    return;
  }
  const valid = invitees.filter(
    (id): id is string => typeof id === "string" && id !== userID && knownUsers.has(id),
  );
  if (valid.length === 0) {
    ack({ error: "no known invitee" });
    return;
  }
  const now = Date.now();
  const call: Call = {
    callID: randomBytes(16).toString("base64url"),
    caller: userID,
    createTime: now,
    timeout,
    extendedData,
    invitees: new Map(),
  };
  for (const id of valid) {
    const invitee: Invitee = { state: "inviting", deadline: now + timeout * 1000, timer: null };
    invitee.timer = setTimeout(() => onTimeout(call, id), timeout * 1000);
    call.invitees.set(id, invitee);
  }
  calls.set(call.callID, call);
  busy.add(userID);
  const list = stateList(call);
  io.to(userID).emit("callInvitationCreated", { callID: call.callID, callUserList: list });
  for (const [id, invitee] of call.invitees) {
    io.to(id).emit("callInvitationReceived", {
      callID: call.callID,
      caller: userID,
      timeout,
      extendedData,
      createTime: now,
      deadline: invitee.deadline,
      callUserList: list,
    });
  }
  ack({ callID: call.callID, timeout });
}

function answer(userID: string, request: unknown, ack: Ack, state: "accepted" | "rejected"): void {
  const { callID, extendedData = "" } = (request ?? {}) as Record<string, unknown>;
  const call = typeof callID === "string" ? calls.get(callID) : undefined;
  if (call?.invitees.get(userID)?.state !== "inviting") {
    ack({ error: "not invited or no longer ringing" });
    return;
  }
  settle(call, userID, state);
  tellOthers(call, userID, "callUserStateChanged", {
    callID: call.callID,
    callUserList: [{ userID, state, extendedData }],
  });
  endIfSettled(call);
  ack({ callID: call.callID });
}

function cancel(userID: string, request: unknown, ack: Ack): void {
  const { callID } = (request ?? {}) as Record<string, unknown>;
  const call = typeof callID === "string" ? calls.get(callID) : undefined;
  if (!call || call.caller !== userID) {
    ack({ error: "not your call" });
    return;
  }
  if ([...call.invitees.values()].some((invitee) => invitee.state === "accepted")) {
    ack({ error: "already accepted" });
    return;
  }
  for (const [id, invitee] of call.invitees) {
    if (invitee.state !== "inviting") continue;
    settle(call, id, "cancelled");
    io.to(id).emit("callInvitationCancelled", { callID: call.callID, inviter: userID });
  }
  endIfSettled(call);
  ack({ callID: call.callID });
}

io.use((socket, next) => {
  const userID = (socket.handshake.auth as { userID?: unknown }).userID;
  if (typeof userID !== "string" || !USER_ID.test(userID)) {
    next(new Error("invalid userID"));
    return;
  }
  socket.data.userID = userID;
  next();
});

io.on("connection", (socket: Socket) => {
  const userID = socket.data.userID as string;
  knownUsers.add(userID);
  void socket.join(userID);
  const safeAck = (ack: unknown): Ack => (typeof ack === "function" ? (ack as Ack) : () => {});
  socket.on("invite", (request: unknown, ack: unknown) => invite(userID, request, safeAck(ack)));
  socket.on("accept", (request: unknown, ack: unknown) =>
    answer(userID, request, safeAck(ack), "accepted"),
  );
  socket.on("reject", (request: unknown, ack: unknown) =>
    answer(userID, request, safeAck(ack), "rejected"),
  );
  socket.on("cancel", (request: unknown, ack: unknown) => cancel(userID, request, safeAck(ack)));
});

await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
const { port } = http.address() as AddressInfo;

process.once("SIGTERM", () => {
  io.disconnectSockets(true);
  void io.close(() => process.exit(0));
});

serveCommands(serverProbes, {
  url: `http://127.0.0.1:${port}`,
  port,
  listeningMs: performance.now(),
});
