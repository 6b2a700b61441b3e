// Slow readers and floods, each over real sockets: one send-buffer cap for every write, frames
// charged before they are parsed, a per-user budget across devices, and sockets that never log
// in are capped and cut at the login deadline.
import { ErrorCode, PROTOCOL_VERSION } from "@beckon/protocol";
import { expect, it } from "vitest";
import WebSocket from "ws";
import { MAX_PENDING_PER_ADDRESS } from "../src/gateway/connection-guard.js";
import { openRawSocket } from "./support/raw-socket.js";
import { useWorld } from "./support/world.js";

const world = useWorld();

async function online(httpUrl: string): Promise<string[]> {
  const response = await fetch(`${httpUrl}/dev/online`);
  return ((await response.json()) as { userIDs: string[] }).userIDs;
}

it("a socket that stops reading while asking for large call lists is closed, not buffered for", async () => {
  const server = await world.server({
    devTokens: true,
    slowReaderMs: 200,
    rateLimit: { burst: 5_000, perSecond: 5_000 },
  });
  const callers = await Promise.all(["c0", "c1", "c2", "c3"].map((u) => world.device(server, u)));
  // The reader logs in once first, so it is a known user its callers can ring.
  await (await world.device(server, "reader", { deviceID: "phone" })).client.logout();
  const extendedData = "x".repeat(2_000);
  for (let round = 0; round < 25; round++) {
    await Promise.all(
      callers.map(async (caller) => {
        const { callID } = await caller.client.callInvite(["reader"], {
          timeout: 60,
          extendedData,
        });
        await caller.client.callCancel([], callID, {});
      }),
    );
  }
  const raw = await openRawSocket(server.url);
  const token = await world.token("reader");
  const login = await raw.request(
    JSON.stringify({
      id: 1,
      op: "login",
      data: { userID: "reader", deviceID: "slow", token, protocolVersion: PROTOCOL_VERSION },
    }),
  );
  expect(login.ok).toBe(true);
  // Stop reading: everything the server sends now piles up on its side.
  const tcp = (raw.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  tcp.pause();
  for (let id = 2; id < 302; id++) {
    raw.socket.send(JSON.stringify({ id, op: "queryCallInvitationList", data: { count: 100 } }));
  }
  // ~70 MB of replies were asked for; the server gives up on the reader long before that.
  while ((await online(server.httpUrl)).includes("reader")) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  tcp.resume();
  const { code } = await raw.closed;
  expect([4005, 1006]).toContain(code);
  // Everyone else is still served.
  const other = await world.device(server, "other");
  const { callID } = await callers[0]!.client.callInvite(["other"], { timeout: 30 });
  await other.waitFor("callInvitationReceived", (event) => event.callID === callID);
});

it("a socket that floods garbage without logging in is disconnected", async () => {
  // A budget that hardly refills, so what gets answered does not depend on how fast this runs.
  const server = await world.server({ rateLimit: { burst: 20, perSecond: 0.01 } });
  const raw = await openRawSocket(server.url);
  const replies: unknown[] = [];
  raw.socket.on("message", (data) => replies.push(data));
  for (let i = 0; i < 2_000; i++) raw.socket.send(i % 2 ? "{not json" : '{"id":1,"op":"ping"}');
  const { code } = await raw.closed;
  expect(code).toBe(1008);
  // Only the frames within the budget (2 × burst) were even parsed and answered.
  expect(replies.length).toBeLessThanOrEqual(41);
  expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
});

it("one user's devices share a request budget", async () => {
  // Budgets that hardly refill, so the count does not depend on how fast this runs.
  const server = await world.server({ rateLimit: { burst: 10, perSecond: 0.001 } });
  const devices = await Promise.all(
    ["a", "b", "c"].map((deviceID) => world.device(server, "multi", { deviceID })),
  );
  const codes = await Promise.all(
    devices.flatMap((device) =>
      Array.from({ length: 10 }, () =>
        device.client.queryCallInvitationList({ count: 1 }).then(
          () => 0,
          (error: { code?: number }) => error.code,
        ),
      ),
    ),
  );
  // Each device is within its own budget of 10; together they get twice that.
  expect(codes.filter((code) => code === 0)).toHaveLength(20);
  expect(codes.filter((code) => code === ErrorCode.ServerFrequencyLimit)).toHaveLength(10);
});

it("sockets that have not logged in are capped per address", async () => {
  const server = await world.server();
  const sockets = await Promise.all(
    Array.from({ length: MAX_PENDING_PER_ADDRESS }, () => openRawSocket(server.url)),
  );
  const refused = new WebSocket(server.url);
  refused.on("error", () => undefined);
  const status = await new Promise<number>((resolve) => {
    refused.once("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0));
    refused.once("open", () => resolve(101));
  });
  refused.terminate();
  expect(status).toBe(503);
  // One logs in: its place is free again.
  const token = await world.token("first");
  const login = await sockets[0]?.request(
    JSON.stringify({
      id: 1,
      op: "login",
      data: { userID: "first", deviceID: "d", token, protocolVersion: PROTOCOL_VERSION },
    }),
  );
  expect(login?.ok).toBe(true);
  const admitted = await openRawSocket(server.url);
  expect(admitted.socket.readyState).toBe(WebSocket.OPEN);
  await Promise.all([...sockets, admitted].map((raw) => raw.close()));
});

it("sockets that have not logged in are cut at the login deadline, not at the next sweep", async () => {
  const server = await world.server({ loginTimeoutMs: 300, heartbeatIntervalMs: 600_000 });
  const sockets = await Promise.all(Array.from({ length: 5 }, () => openRawSocket(server.url)));
  // No heartbeat sweep runs within the test: the login deadline alone closes them.
  const codes = await Promise.all(sockets.map(async (raw) => (await raw.closed).code));
  expect(new Set(codes)).toEqual(new Set([1006]));
  const honest = await world.device(server, "honest");
  expect(honest.client.connectionState).toBeGreaterThan(0);
});

it("under a flood of logins a user never holds more than its device cap", async () => {
  const server = await world.server({ maxDevicesPerUser: 10 });
  const token = await world.token("crowd");
  const sockets = await Promise.all(Array.from({ length: 30 }, () => openRawSocket(server.url)));
  const replies = await Promise.all(
    sockets.map((raw, i) =>
      raw.request(
        JSON.stringify({
          id: 1,
          op: "login",
          data: { userID: "crowd", deviceID: `d${i}`, token, protocolVersion: PROTOCOL_VERSION },
        }),
      ),
    ),
  );
  expect(replies.every((reply) => reply.ok === true)).toBe(true);
  // Whichever 20 logged in first are logged out with KickedOut (4001); the other 10 stay.
  const closedCodes: number[] = [];
  await new Promise<void>((resolve) => {
    for (const raw of sockets) {
      void raw.closed.then(({ code }) => {
        closedCodes.push(code);
        if (closedCodes.length === 20) resolve();
      });
    }
  });
  expect(new Set(closedCodes)).toEqual(new Set([4001]));
  const open = sockets.filter((raw) => raw.socket.readyState === raw.socket.OPEN);
  expect(open).toHaveLength(10);
  for (const raw of open) {
    const pong = await raw.request(JSON.stringify({ id: 2, op: "ping", data: {} }));
    expect(pong).toMatchObject({ id: 2, ok: true });
  }
  expect(closedCodes).toHaveLength(20);
});

it("a flood of invites from one caller starts exactly one call (the busy rule)", async () => {
  const server = await world.server();
  const callees = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"];
  await Promise.all(callees.map((userID) => world.device(server, userID)));
  const caller = await world.device(server, "caller");
  const codes = await Promise.all(
    callees.map((userID) =>
      caller.client.callInvite([userID], { timeout: 30 }).then(
        () => 0,
        (error: { code?: number }) => error.code,
      ),
    ),
  );
  expect(codes.filter((code) => code === 0)).toHaveLength(1);
  expect(codes.filter((code) => code === ErrorCode.CallCommonError)).toHaveLength(7);
});

it("a rate limit service that fails lets requests through rather than refusing them all", async () => {
  const server = await world.server({
    services: {
      rateLimits: {
        take: () => Promise.reject(new Error("the budgets cannot be read")),
        close: async () => {},
      },
    },
  });
  const device = await world.device(server, "unlimited");
  const { callList } = await device.client.queryCallInvitationList({ count: 1 });
  expect(callList).toEqual([]);
});
