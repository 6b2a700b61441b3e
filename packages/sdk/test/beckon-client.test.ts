// Pins the client's connection behaviour over real sockets against a fake of the protocol:
// the login gate, state events, automatic receipts, reconnect/resume and logout.
import {
  BeckonClient,
  type BeckonClientOptions,
  ConnectionEvent,
  ConnectionState,
  type ConnectionStateChangedEvent,
  ErrorCode,
} from "@beckon/sdk";
import { afterEach, describe, expect, it } from "vitest";
import {
  acceptLogin,
  FAKE_EPOCH,
  FakeBeckonServer,
  type ReceivedFrame,
  WaitableLog,
} from "./fake-beckon-server.js";

const servers: FakeBeckonServer[] = [];
const clients: BeckonClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function startServer(): Promise<FakeBeckonServer> {
  const server = await FakeBeckonServer.start();
  servers.push(server);
  return server;
}

function createClient(
  server: FakeBeckonServer,
  options: Partial<BeckonClientOptions> = {},
): BeckonClient {
  const client = new BeckonClient({
    url: server.url,
    reconnect: { minDelayMs: 1, maxDelayMs: 5 },
    requestTimeoutMs: 3_000,
    ...options,
  });
  clients.push(client);
  return client;
}

function recordStates(client: BeckonClient): WaitableLog<ConnectionStateChangedEvent> {
  const log = new WaitableLog<ConnectionStateChangedEvent>();
  client.on("connectionStateChanged", (_client, data) => log.push(data));
  return log;
}

const isOp = (op: string) => (frame: ReceivedFrame) => frame.op === op;
const inState = (state: ConnectionState) => (change: ConnectionStateChangedEvent) =>
  change.state === state;

function invitation(callID: string) {
  return {
    callID,
    mode: 0,
    caller: "alice",
    inviter: "alice",
    extendedData: "",
    timeout: 90,
    createTime: Date.now(),
    callUserList: [],
    deadline: Date.now() + 90_000,
  };
}

/** Only for asserting that something does NOT happen; never used to wait for an event. */
function quietPeriod(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("BeckonClient", () => {
  it("rejects every call before login with UserIsNotLogged, without touching the network", async () => {
    const server = await startServer();
    const client = createClient(server);
    const attempts: Array<Promise<unknown>> = [
      client.callInvite(["bob"], { timeout: 30 }),
      client.callCancel([], "call-1", {}),
      client.callAccept("call-1", {}),
      client.callReject("call-1", {}),
      client.callingInvite(["bob"], "call-1", {}),
      client.callJoin("call-1", {}),
      client.callQuit("call-1", {}),
      client.callEnd("call-1", {}),
      client.queryCallInvitationList({ count: 10, nextFlag: 0 }),
      client.renewToken("token"),
    ];
    for (const attempt of attempts) {
      await expect(attempt).rejects.toMatchObject({ code: ErrorCode.UserIsNotLogged });
    }
    expect(server.connections.items).toHaveLength(0);
  });

  it("logs in with its device ID and emits Connecting then Connected", async () => {
    const server = await startServer();
    const client = createClient(server);
    const states = recordStates(client);

    await client.login("alice", { token: "token-a" });

    const login = await server.frames.waitFor(isOp("login"));
    expect(login.data).toEqual({
      protocolVersion: 1,
      userID: "alice",
      token: "token-a",
      deviceID: client.deviceID,
    });
    expect(client.deviceID).toMatch(/^[0-9a-f]{32}$/);
    expect(states.items).toEqual([
      { state: ConnectionState.Connecting, event: ConnectionEvent.ActiveLogin, extendedData: "" },
      { state: ConnectionState.Connected, event: ConnectionEvent.Success, extendedData: "" },
    ]);
    await expect(client.login("alice", { token: "token-a" })).resolves.toBeUndefined();
    await expect(client.login("bob", { token: "token-b" })).rejects.toMatchObject({
      code: ErrorCode.ParamsInvalid,
    });
  });

  it("rejects a refused login with the server's code and ends Disconnected", async () => {
    const server = await startServer();
    server.respondToLogin = (frame) => ({
      id: frame.id,
      ok: false,
      error: { code: ErrorCode.TokenInvalid, message: "bad token" },
    });
    const client = createClient(server);
    const states = recordStates(client);

    await expect(client.login("alice", { token: "nope" })).rejects.toMatchObject({
      code: ErrorCode.TokenInvalid,
    });
    expect(states.items.map((change) => change.state)).toEqual([
      ConnectionState.Connecting,
      ConnectionState.Disconnected,
    ]);
    expect(JSON.parse(states.items[1]?.extendedData ?? "")).toMatchObject({
      code: ErrorCode.TokenInvalid,
    });
  });

  it("acknowledges callInvitationReceived by itself, with or without listeners", async () => {
    const server = await startServer();
    const client = createClient(server);
    await client.login("bob", { token: "token-b" });
    const socket = await server.connections.waitFor(() => true);

    server.send(socket, { ev: "callInvitationReceived", seq: 1, data: invitation("call-1") });
    const firstAck = await server.frames.waitFor(isOp("callAck"));
    expect(firstAck.data).toEqual({ callID: "call-1" });

    const received = new WaitableLog<{ owner: BeckonClient; callID: string }>();
    client.on("callInvitationReceived", (owner, data) =>
      received.push({ owner, callID: data.callID }),
    );
    server.send(socket, { ev: "callInvitationReceived", seq: 2, data: invitation("call-2") });
    const secondAck = await server.frames.waitFor(isOp("callAck"), 2);
    expect(secondAck.data).toEqual({ callID: "call-2" });
    const event = await received.waitFor(() => true);
    expect(event.owner).toBe(client);
    expect(event.callID).toBe("call-2");
  });

  it("reconnects after the server drops the socket, resuming with the same device ID", async () => {
    const server = await startServer();
    const client = createClient(server);
    const states = recordStates(client);
    await client.login("alice", { token: "token-a" });
    const firstSocket = await server.connections.waitFor(() => true);
    const changed = new WaitableLog<number>();
    client.on("callUserStateChanged", (_client, data) => changed.push(data.callUserList.length));
    server.send(firstSocket, {
      ev: "callUserStateChanged",
      seq: 1,
      data: { callID: "call-1", callUserList: [] },
    });
    await changed.waitFor(() => true);

    server.dropAll();

    await states.waitFor(inState(ConnectionState.Reconnecting));
    await states.waitFor(inState(ConnectionState.Connected), 2);
    const relogin = await server.frames.waitFor(isOp("login"), 2);
    expect(relogin.socket).not.toBe(firstSocket);
    expect(relogin.data).toMatchObject({
      userID: "alice",
      token: "token-a",
      deviceID: client.deviceID,
      resume: { epoch: FAKE_EPOCH, seq: 1 },
    });
    expect(states.items.slice(2)).toEqual([
      {
        state: ConnectionState.Reconnecting,
        event: ConnectionEvent.LoginInterrupted,
        extendedData: "",
      },
      // The fake server resumes a known epoch, so the app is told it missed nothing.
      {
        state: ConnectionState.Connected,
        event: ConnectionEvent.Success,
        extendedData: JSON.stringify({ resumed: true }),
      },
    ]);
  });

  it("holds a request made while reconnecting until the new session is up", async () => {
    const server = await startServer();
    const client = createClient(server);
    const states = recordStates(client);
    await client.login("bob", { token: "token-b" });
    server.respondToLogin = () => null;

    server.dropAll();
    await states.waitFor(inState(ConnectionState.Reconnecting));
    const accepted = client.callAccept("call-9", { extendedData: "hi" });
    const relogin = await server.frames.waitFor(isOp("login"), 2);
    expect(server.frames.count(isOp("callAccept"))).toBe(0);
    const reply = acceptLogin(relogin);
    if (reply) server.send(relogin.socket, reply);

    const accept = await server.frames.waitFor(isOp("callAccept"));
    expect(accept.socket).toBe(relogin.socket);
    expect(accept.data).toEqual({ callID: "call-9", extendedData: "hi" });
    server.send(accept.socket, { id: accept.id, ok: true, data: { callID: "call-9" } });
    await expect(accepted).resolves.toEqual({ callID: "call-9" });
  });

  it("stops reconnecting on logout, even mid-reconnect", async () => {
    const server = await startServer();
    const client = createClient(server);
    const states = recordStates(client);
    await client.login("alice", { token: "token-a" });
    server.respondToLogin = () => null;

    server.dropAll();
    const relogin = await server.frames.waitFor(isOp("login"), 2);
    await client.logout();
    await server.closedSockets.waitFor((socket) => socket === relogin.socket);

    expect(client.connectionState).toBe(ConnectionState.Disconnected);
    expect(states.items.at(-1)).toEqual({
      state: ConnectionState.Disconnected,
      event: ConnectionEvent.Success,
      extendedData: "",
    });
    const connectionsAtLogout = server.connections.items.length;
    // With a 5 ms backoff ceiling, a surviving reconnect timer would have dialled by now.
    await quietPeriod(150);
    expect(server.connections.items.length).toBe(connectionsAtLogout);
    await expect(client.callAccept("call-1", {})).rejects.toMatchObject({
      code: ErrorCode.UserIsNotLogged,
    });
  });

  it("cancels a scheduled retry when logout comes from a Reconnecting listener", async () => {
    const server = await startServer();
    const client = createClient(server);
    const states = recordStates(client);
    await client.login("alice", { token: "token-a" });
    const loggedOut = new WaitableLog<string>();
    // The retry timer is already set when Reconnecting is emitted; logout must clear it.
    client.on("connectionStateChanged", (_client, data) => {
      if (data.state === ConnectionState.Reconnecting)
        void client.logout().then(() => loggedOut.push("done"));
    });

    server.dropAll();
    await loggedOut.waitFor(() => true);
    expect(states.items.at(-1)?.state).toBe(ConnectionState.Disconnected);
    await quietPeriod(150);
    expect(server.connections.items).toHaveLength(1);
  });

  it("tells the server on logout and does not reconnect afterwards", async () => {
    const server = await startServer();
    const client = createClient(server);
    await client.login("alice", { token: "token-a" });
    const socket = await server.connections.waitFor(() => true);

    await client.logout();
    expect(server.frames.count(isOp("logout"))).toBe(1);
    await server.closedSockets.waitFor((closed) => closed === socket);
    await quietPeriod(150);
    expect(server.connections.items).toHaveLength(1);
  });

  it("ends Disconnected with TokenExpired when the relogin is refused", async () => {
    const server = await startServer();
    const client = createClient(server);
    const states = recordStates(client);
    await client.login("alice", { token: "token-a" });
    server.respondToLogin = (frame) => ({
      id: frame.id,
      ok: false,
      error: { code: ErrorCode.TokenExpired, message: "expired" },
    });

    server.dropAll();
    const final = await states.waitFor(inState(ConnectionState.Disconnected));
    expect(final.event).toBe(ConnectionEvent.TokenExpired);
    expect(client.userID).toBeNull();
  });

  it("goes Disconnected with the server's event when kicked, without reconnecting", async () => {
    const server = await startServer();
    const client = createClient(server);
    const states = recordStates(client);
    await client.login("alice", { token: "token-a" });
    const socket = await server.connections.waitFor(() => true);

    server.send(socket, {
      ev: "kicked",
      data: { event: ConnectionEvent.KickedOut, reason: "too many devices" },
    });
    const final = await states.waitFor(inState(ConnectionState.Disconnected));
    expect(final.event).toBe(ConnectionEvent.KickedOut);
    expect(JSON.parse(final.extendedData)).toEqual({ reason: "too many devices" });
    await server.closedSockets.waitFor((closed) => closed === socket);
    await quietPeriod(150);
    expect(server.connections.items).toHaveLength(1);
  });

  it("pings every heartbeat interval and reconnects when the server goes silent", async () => {
    const server = await startServer();
    server.respondToLogin = (frame) => {
      const reply = acceptLogin(frame) as { data: Record<string, unknown> };
      return { ...reply, data: { ...reply.data, heartbeatIntervalMs: 40 } };
    };
    const client = createClient(server);
    const states = recordStates(client);
    await client.login("alice", { token: "token-a" });
    const firstSocket = await server.connections.waitFor(() => true);
    await server.frames.waitFor(isOp("ping"), 2);

    server.silentSockets.add(firstSocket);
    await states.waitFor(inState(ConnectionState.Reconnecting));
    const relogin = await server.frames.waitFor(isOp("login"), 2);
    expect(relogin.socket).not.toBe(firstSocket);
    expect(relogin.data).toMatchObject({ deviceID: client.deviceID });
    await states.waitFor(inState(ConnectionState.Connected), 2);
    await server.closedSockets.waitFor((socket) => socket === firstSocket);
  });

  it("ignores malformed and unknown frames", async () => {
    const server = await startServer();
    const client = createClient(server);
    await client.login("alice", { token: "token-a" });
    const socket = await server.connections.waitFor(() => true);
    const received = new WaitableLog<string>();
    client.on("callInvitationTimeout", (_client, data) => received.push(data.callID));

    socket.send("not json");
    socket.send(JSON.stringify([1, 2, 3]));
    server.send(socket, { ev: "somethingNew", data: { callID: "x" } });
    server.send(socket, { ev: "callInvitationTimeout", seq: 1, data: { mode: 0 } });
    server.send(socket, { id: 999_999, ok: true, data: {} });
    // The malformed event above never counted, so this one is the first of the stream.
    server.send(socket, {
      ev: "callInvitationTimeout",
      seq: 1,
      data: { callID: "call-5", mode: 0 },
    });

    expect(await received.waitFor(() => true)).toBe("call-5");
    expect(received.items).toEqual(["call-5"]);
    expect(client.connectionState).toBe(ConnectionState.Connected);
  });
});
