// A receipt the server could not take is sent again; one it refused for good is not. And when
// the server closes the socket with a reason (e.g. a reader too slow to keep), the app sees it.
import { BeckonClient, ConnectionState, type ConnectionStateChangedEvent } from "@beckon/sdk";
import { afterEach, expect, it } from "vitest";
import {
  acceptLogin,
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

async function loggedIn(): Promise<{ server: FakeBeckonServer; client: BeckonClient }> {
  const server = await FakeBeckonServer.start();
  servers.push(server);
  const client = new BeckonClient({ url: server.url, reconnect: { minDelayMs: 1, maxDelayMs: 5 } });
  clients.push(client);
  await client.login("bob", { token: "token-b" });
  return { server, client };
}

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

const isAck = (frame: ReceivedFrame) => frame.op === "callAck";

it("a receipt refused as too many requests or a server error is sent again", async () => {
  const { server } = await loggedIn();
  const failures = [6000005, 6000000];
  server.respondToAck = (frame) => {
    const code = failures.shift();
    return code === undefined
      ? null
      : { id: frame.id, ok: false, error: { code, message: "try again" } };
  };
  const socket = await server.connections.waitFor(() => true);
  server.send(socket, { ev: "callInvitationReceived", seq: 1, data: invitation("call-1") });
  const third = await server.frames.waitFor(isAck, 3);
  expect(third.data).toEqual({ callID: "call-1" });
  expect(server.frames.count(isAck)).toBe(3);
});

it("a receipt refused for good (no such call) is not sent again", async () => {
  const { server } = await loggedIn();
  server.respondToAck = (frame) =>
    frame.data.callID === "gone"
      ? { id: frame.id, ok: false, error: { code: 6000276, message: "no such call" } }
      : null;
  const socket = await server.connections.waitFor(() => true);
  server.send(socket, { ev: "callInvitationReceived", seq: 1, data: invitation("gone") });
  await server.frames.waitFor(isAck);
  // Only for asserting that something does NOT happen: a retry would come within 200 ms.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(server.frames.count((frame) => isAck(frame) && frame.data.callID === "gone")).toBe(1);
});

it("shows the server's close reason when the connection is cut", async () => {
  const { server, client } = await loggedIn();
  const states = new WaitableLog<ConnectionStateChangedEvent>();
  client.on("connectionStateChanged", (_client, data) => states.push(data));
  const socket = await server.connections.waitFor(() => true);
  socket.close(4005, "too slow to read");
  const reconnecting = await states.waitFor(
    (change) => change.state === ConnectionState.Reconnecting,
  );
  expect(reconnecting.extendedData).toContain("too slow to read");
});

it("clamps a heartbeat interval past the timer limit instead of pinging every millisecond", async () => {
  const server = await FakeBeckonServer.start();
  servers.push(server);
  server.respondToLogin = (frame) => {
    const reply = acceptLogin(frame) as { data: Record<string, unknown> };
    return { ...reply, data: { ...reply.data, heartbeatIntervalMs: 2 ** 40 } };
  };
  const client = new BeckonClient({ url: server.url });
  clients.push(client);
  await client.login("bob", { token: "token-b" });
  // Only for asserting that something does NOT happen: an overflowed timer fires after 1 ms.
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(server.frames.count((frame) => frame.op === "ping")).toBe(0);
  expect(client.connectionState).toBe(ConnectionState.Connected);
});
