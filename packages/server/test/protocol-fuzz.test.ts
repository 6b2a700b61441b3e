// Malformed frames over several sockets (logged in and not) while two honest users keep ringing
// each other: every bad frame gets exactly one error reply (never ok, never an internal error),
// honest calls never fail, the node stays up and its memory stays bounded.
// `npm test` runs a short seed; `npm run fuzz` runs ≥100k frames (BECKON_FUZZ_FRAMES, _SEED).

import { ErrorCode, PROTOCOL_VERSION } from "@beckon/protocol";
import fc from "fast-check";
import { expect, it } from "vitest";
import { isOperationNameForFuzz, OPERATION_NAMES_FOR_FUZZ } from "./support/fuzz-ops.js";
import { openRawSocket, type RawSocket } from "./support/raw-socket.js";
import { type Device, useWorld } from "./support/world.js";

const world = useWorld();
const FRAMES = Number(process.env.BECKON_FUZZ_FRAMES ?? 4_000);
const SEED = Number(process.env.BECKON_FUZZ_SEED ?? 20_261_201);
const SOCKETS = 4;
const BATCH = 100;

/** A value of the wrong type for whatever field it lands in. */
const wrongValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer({ min: -1_000_000, max: -1 }),
  fc.string({ maxLength: 40 }).map((s) => ({ s })),
  fc.array(fc.integer(), { maxLength: 5 }),
  fc.string({ minLength: 300, maxLength: 400 }),
);
const anyText = fc.string({ maxLength: 200, unit: "binary" });
const envelopeID = fc.integer({ min: 0, max: 1_000_000 });

/** Data that fails the op's schema for sure: a required field of the wrong type. */
const brokenData: Record<string, fc.Arbitrary<unknown>> = {
  login: fc.record({ protocolVersion: wrongValue, userID: anyText, token: anyText }),
  logout: fc.oneof(fc.integer(), fc.string(), fc.array(fc.integer()), fc.boolean()),
  renewToken: fc.record({ token: fc.oneof(fc.integer(), fc.constant(null), fc.boolean()) }),
  ping: fc.record({
    ack: fc.oneof(fc.integer({ max: -1 }), fc.string(), fc.double({ min: 0.1, max: 0.9 })),
  }),
  callInvite: fc.record({ invitees: fc.oneof(fc.string(), fc.integer(), fc.constant(null)) }),
  callCancel: fc.record({ callID: fc.integer(), invitees: fc.constant([]) }),
  callAccept: fc.record({ callID: fc.oneof(fc.integer(), fc.constant(null), fc.boolean()) }),
  callReject: fc.record({ callID: fc.oneof(fc.integer(), fc.array(fc.string())) }),
  callAck: fc.record({ callID: fc.oneof(fc.integer(), fc.constant(null)) }),
  callingInvite: fc.record({ callID: fc.string(), invitees: fc.oneof(fc.string(), fc.integer()) }),
  callJoin: fc.record({ callID: fc.oneof(fc.integer(), fc.boolean()) }),
  callQuit: fc.record({ callID: fc.oneof(fc.integer(), fc.constant(null)) }),
  callEnd: fc.record({ callID: fc.oneof(fc.double(), fc.array(fc.integer())) }),
  queryCallInvitationList: fc.record({ count: fc.oneof(fc.string(), fc.constant(null)) }),
  callTimeline: fc.record({ callID: fc.oneof(fc.integer(), fc.constant(""), fc.boolean()) }),
};

/** Well-formed requests that must still be refused for a stranger (no such call, bad values). */
const refusedRequest = fc.oneof(
  fc.record({
    op: fc.constantFrom(
      "callAccept",
      "callReject",
      "callJoin",
      "callQuit",
      "callEnd",
      "callTimeline",
    ),
    data: fc.record({ callID: fc.string({ minLength: 1, maxLength: 40 }) }),
  }),
  fc.record({
    op: fc.constant("callCancel"),
    data: fc.record({ callID: fc.string({ maxLength: 40 }), invitees: fc.constant([]) }),
  }),
  fc.record({
    op: fc.constant("callInvite"),
    data: fc.record({
      invitees: fc.constant([]),
      timeout: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 601 })),
    }),
  }),
  fc.record({
    op: fc.constant("queryCallInvitationList"),
    // SPEC §5: a whole count over 100 is treated as 100, so only counts below 1 and fractions
    // are malformed.
    data: fc.record({
      count: fc.oneof(
        fc.integer({ max: 0 }),
        fc.double({ min: 0.5, max: 1e6, noInteger: true, noNaN: true }),
      ),
    }),
  }),
  fc.record({
    op: fc.constant("login"),
    data: fc.record({
      protocolVersion: fc.constant(PROTOCOL_VERSION),
      userID: fc.constantFrom("alice", "bob", "x"),
      token: anyText,
      deviceID: fc.constant("fuzz"),
    }),
  }),
);

const malformedFrame: fc.Arbitrary<string | Buffer> = fc.oneof(
  anyText.map((text) => `\u0001${text}`),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value) ?? "null"),
  fc
    .record({ id: fc.oneof(fc.integer({ max: -1 }), fc.double(), fc.string()), op: fc.string() })
    .map((frame) => JSON.stringify(frame)),
  fc
    .record({
      id: envelopeID,
      op: fc.string({ maxLength: 64 }).filter((op) => !isOperationNameForFuzz(op)),
    })
    .map((frame) => JSON.stringify({ ...frame, data: {} })),
  fc
    .constantFrom(...OPERATION_NAMES_FOR_FUZZ)
    .chain((op) =>
      fc
        .tuple(envelopeID, brokenData[op] as fc.Arbitrary<unknown>)
        .map(([id, data]) => JSON.stringify({ id, op, data })),
    ),
  fc.tuple(envelopeID, refusedRequest).map(([id, request]) => JSON.stringify({ id, ...request })),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom(
    '{"id":1,"op":"__proto__","data":{}}',
    '{"id":1,"op":"constructor","data":{}}',
    '{"id":1,"op":"toString","data":{}}',
    `{"id":1,"op":"ping","data":${"[".repeat(5_000)}${"]".repeat(5_000)}}`,
    '{"id":9007199254740993,"op":"ping"}',
  ),
);

interface Attacker {
  raw: RawSocket;
  replies: Array<Record<string, unknown>>;
  waiting: { count: number; resolve: () => void } | null;
}

async function attacker(url: string, userID: string | null): Promise<Attacker> {
  const raw = await openRawSocket(url);
  if (userID) {
    const token = await world.token(userID);
    const login = await raw.request(
      JSON.stringify({
        id: 0,
        op: "login",
        data: { userID, token, deviceID: "fuzz", protocolVersion: PROTOCOL_VERSION },
      }),
    );
    expect(login.ok).toBe(true);
  }
  const state: Attacker = { raw, replies: [], waiting: null };
  const pump = async () => {
    for (;;) {
      const frame = await raw.next();
      state.replies.push(frame);
      if (state.waiting && state.replies.length >= state.waiting.count) state.waiting.resolve();
    }
  };
  void pump();
  return state;
}

/** Honest ringing until `stop()`: every operation must succeed. */
function ringLoop(alice: Device, bob: Device) {
  let running = true;
  let rings = 0;
  const failures: unknown[] = [];
  const done = (async () => {
    while (running) {
      try {
        const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
        await bob.waitFor("callInvitationReceived", (event) => event.callID === callID);
        await alice.client.callCancel([], callID, {});
        await bob.waitFor("callInvitationCancelled", (event) => event.callID === callID);
        rings += 1;
      } catch (error) {
        failures.push(error);
        return;
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { rings, failures };
    },
  };
}

it(
  `${FRAMES} malformed frames: one error reply each, honest calls unharmed`,
  async () => {
    const server = await world.server({
      rateLimit: { burst: 1_000_000, perSecond: 1_000_000 },
      loginTimeoutMs: 3_600_000,
    });
    const alice = await world.device(server, "alice");
    const bob = await world.device(server, "bob");
    const rssBefore = process.memoryUsage().rss;
    const ringing = ringLoop(alice, bob);
    const attackers = await Promise.all(
      Array.from({ length: SOCKETS }, (_, i) => attacker(server.url, i % 2 ? `mallory${i}` : null)),
    );
    const frames = fc.sample(malformedFrame, { seed: SEED, numRuns: FRAMES });
    for (let start = 0; start < frames.length; start += BATCH * SOCKETS) {
      await Promise.all(
        attackers.map(async (state, index) => {
          const batch = frames.slice(start + index * BATCH, start + (index + 1) * BATCH);
          const expected = state.replies.length + batch.length;
          const arrived = new Promise<void>((resolve) => {
            state.waiting = { count: expected, resolve };
            if (state.replies.length >= expected) resolve();
          });
          for (const frame of batch)
            state.raw.socket.send(frame, { binary: Buffer.isBuffer(frame) });
          await arrived;
        }),
      );
    }
    const { rings, failures } = await ringing.stop();
    const replies = attackers.flatMap((state) => state.replies);
    expect(replies).toHaveLength(frames.length);
    const wrong = replies.filter(
      (reply) =>
        reply.ok !== false ||
        (reply.error as { code?: number } | undefined)?.code === ErrorCode.ServerError,
    );
    expect(wrong, `seed ${SEED}`).toEqual([]);
    expect(failures, `seed ${SEED}`).toEqual([]);
    expect(rings).toBeGreaterThan(0);
    for (const state of attackers) expect(state.raw.socket.readyState).toBe(state.raw.socket.OPEN);
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
    // Bounded: a leak per frame would show at this scale; the limit leaves room for the GC.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(512 * 1024 * 1024);
    for (const state of attackers) await state.raw.close();
  },
  Math.max(30_000, FRAMES * 5),
);
