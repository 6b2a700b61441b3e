// Heartbeats: the SDK's exact ping shape is answered on a fast path (no JSON parse, no schema),
// anything else that says "ping" takes the ordinary path, and both acknowledge the stream.
import { PROTOCOL_VERSION } from "@beckon/protocol";
import { expect, it } from "vitest";
import { openRawSocket } from "./support/raw-socket.js";
import { useWorld } from "./support/world.js";

const world = useWorld();

it("answers the SDK's ping shape and other spellings alike, and refuses a ping before login", async () => {
  const server = await world.server();
  const raw = await openRawSocket(server.url);
  try {
    const early = await raw.request('{"id":1,"op":"ping","data":{}}');
    expect(early).toMatchObject({ id: 1, ok: false, error: { code: 6000121 } });
    const login = await raw.request(
      JSON.stringify({
        id: 2,
        op: "login",
        data: {
          protocolVersion: PROTOCOL_VERSION,
          userID: "pinger",
          token: await world.token("pinger"),
          deviceID: "d1",
        },
      }),
    );
    expect(login).toMatchObject({ id: 2, ok: true });
    const before = Date.now();
    const fast = await raw.request('{"id":3,"op":"ping","data":{"ack":0}}');
    expect(fast).toMatchObject({ id: 3, ok: true });
    expect((fast.data as { serverTime: number }).serverTime).toBeGreaterThanOrEqual(before);
    const bare = await raw.request('{"id":4,"op":"ping","data":{}}');
    expect(bare).toMatchObject({ id: 4, ok: true });
    const spaced = await raw.request('{ "id": 5, "op": "ping", "data": { "ack": 0 } }');
    expect(spaced).toMatchObject({ id: 5, ok: true });
    const wrong = await raw.request('{"id":6,"op":"ping","data":{"ack":-1}}');
    expect(wrong).toMatchObject({ id: 6, ok: false, error: { code: 6000001 } });
  } finally {
    await raw.close();
  }
});
