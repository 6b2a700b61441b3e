// Bad input gets a clear error reply and changes nothing; the server never crashes or stalls.
import { CallUserState, ErrorCode } from "@beckon/protocol";
import { expect, it } from "vitest";
import { openRawSocket } from "./support/raw-socket.js";
import { SECRET, useWorld } from "./support/world.js";

const world = useWorld();

const garbage: Array<[string, string | Buffer, number | null]> = [
  ["not JSON", "{{{", null],
  ["a JSON string", '"hello"', null],
  ["null", "null", null],
  ["no op", '{"id": 1}', 1],
  ["a negative id", '{"id": -1, "op": "ping"}', null],
  ["an unknown op", '{"id": 2, "op": "launchMissiles", "data": {}}', 2],
  ["a wrong field type", '{"id": 3, "op": "callAccept", "data": {"callID": 42}}', 3],
  ["invitees not a list", '{"id": 4, "op": "callInvite", "data": {"invitees": "bob"}}', 4],
  [
    "a huge invitee list",
    JSON.stringify({ id: 5, op: "callInvite", data: { invitees: Array(500).fill("bob") } }),
    5,
  ],
  ["a binary frame", Buffer.from([0xde, 0xad, 0xbe, 0xef]), null],
  ["prototype pollution", '{"id": 6, "op": "__proto__", "data": {}}', 6],
  ["constructor op", '{"id": 7, "op": "constructor", "data": {}}', 7],
];

it("garbage frames get ParamsInvalid replies and leave a ringing call untouched", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  const bob = await world.device(server, "bob");
  const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
  await bob.waitFor("callInvitationReceived");
  await alice.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.state === CallUserState.Received),
  );

  const raw = await openRawSocket(server.url);
  try {
    const token = await world.token("mallory");
    const login = await raw.request(
      JSON.stringify({
        id: 100,
        op: "login",
        data: { protocolVersion: 1, userID: "mallory", token, deviceID: "m" },
      }),
    );
    expect(login).toMatchObject({ id: 100, ok: true });
    for (const [name, frame, id] of garbage) {
      const reply = await raw.request(frame);
      expect(reply, name).toMatchObject({
        id,
        ok: false,
        error: { code: ErrorCode.ParamsInvalid },
      });
      expect((reply.error as { message: string }).message.length, name).toBeGreaterThan(0);
    }
    // Mallory cannot touch a call she is not in.
    const sneaky = await raw.request(
      JSON.stringify({ id: 8, op: "callCancel", data: { callID, invitees: [] } }),
    );
    expect(sneaky).toMatchObject({ ok: false, error: { code: ErrorCode.CallIsNotInviter } });
    const ping = await raw.request('{"id": 9, "op": "ping", "data": {}}');
    expect(ping).toMatchObject({ id: 9, ok: true });
  } finally {
    await raw.close();
  }
  const { callList } = await alice.client.queryCallInvitationList({ count: 10, nextFlag: 0 });
  expect(callList.map((c) => [c.callID, c.state, c.callUserList.map((u) => u.state)])).toEqual([
    [callID, 1, [CallUserState.Accepted, CallUserState.Received]],
  ]);
  await expect(bob.client.callAccept(callID, {})).resolves.toEqual({ callID });
});

it("an oversize frame closes that socket (1009) and nobody else notices", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  const raw = await openRawSocket(server.url);
  raw.socket.send("x".repeat(70 * 1024));
  expect((await raw.closed).code).toBe(1009);
  await expect(alice.client.queryCallInvitationList({ count: 1, nextFlag: 0 })).resolves.toEqual({
    callList: [],
    nextFlag: 0,
  });
});

it("a socket that never logs in is closed after the login timeout", async () => {
  const server = await world.server({ loginTimeoutMs: 100, heartbeatIntervalMs: 50 });
  const raw = await openRawSocket(server.url);
  expect((await raw.closed).code).toBeGreaterThan(0);
});

it("a login with an unsupported protocol version or a bad userID is refused", async () => {
  const server = await world.server();
  const raw = await openRawSocket(server.url);
  try {
    const { signToken } = await import("@beckon/server");
    const token = await signToken({ secret: SECRET, userID: "alice" });
    const v2 = await raw.request(
      JSON.stringify({
        id: 1,
        op: "login",
        data: { protocolVersion: 2, userID: "alice", token, deviceID: "d" },
      }),
    );
    expect(v2).toMatchObject({ ok: false, error: { code: ErrorCode.ParamsInvalid } });
    const badUser = await raw.request(
      JSON.stringify({
        id: 2,
        op: "login",
        data: { protocolVersion: 1, userID: "a b", token, deviceID: "d" },
      }),
    );
    expect(badUser).toMatchObject({ ok: false, error: { code: ErrorCode.ParamsInvalid } });
  } finally {
    await raw.close();
  }
});

it("an HTTP request to an unknown path or a non-WebSocket upgrade gets a 404", async () => {
  const server = await world.server();
  const response = await fetch(`${server.httpUrl}/nope`);
  expect(response.status).toBe(404);
  expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
  // Development tokens are off unless asked for.
  const token = await fetch(`${server.httpUrl}/dev/token`, {
    method: "POST",
    body: '{"userID":"a"}',
  });
  expect(token.status).toBe(404);
});
