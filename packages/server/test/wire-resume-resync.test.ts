// Resume and resync as the wire shows them (raw frames, not the SDK's filtering): a device that
// comes back never hears an invitation ring after its deadline, a resync does not invite a device
// again to a call it already shows, and no event reaches a device twice in one epoch.
import { CallUserState, PROTOCOL_VERSION } from "@beckon/protocol";
import { expect, it } from "vitest";
import { MemoryStreamBroker } from "../src/streams/memory-stream-broker.js";
import type { Publication } from "../src/streams/stream-broker.js";
import { openRawSocket, type RawSocket } from "./support/raw-socket.js";
import { useWorld } from "./support/world.js";

const world = useWorld();

interface Frame {
  id?: number;
  ok?: boolean;
  seq?: number;
  ev?: string;
  data?: Record<string, unknown>;
}

async function login(
  raw: RawSocket,
  userID: string,
  resume?: { epoch: string; seq: number },
  openCalls?: string[],
): Promise<Frame> {
  return (await raw.request(
    JSON.stringify({
      id: 1,
      op: "login",
      data: {
        protocolVersion: PROTOCOL_VERSION,
        userID,
        token: await world.token(userID),
        deviceID: "phone",
        ...(resume ? { resume } : {}),
        ...(openCalls ? { openCalls } : {}),
      },
    }),
  )) as Frame;
}

/** Every frame up to the reply to a request sent now (frames written before it come first). */
async function framesUntilReply(raw: RawSocket, id: number): Promise<Frame[]> {
  raw.socket.send(JSON.stringify({ id, op: "queryCallInvitationList", data: { count: 10 } }));
  const frames: Frame[] = [];
  for (;;) {
    const frame = (await raw.next()) as Frame;
    if (frame.id === id) return frames;
    frames.push(frame);
  }
}

it("a device resuming after an invitation's deadline is not rung by it: it resyncs instead", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  const first = await openRawSocket(server.url);
  const loggedIn = await login(first, "bob");
  const epoch = (loggedIn.data as { epoch: string }).epoch;
  await first.close();

  // The invitation reaches bob's stream while he is away, and its deadline passes.
  const { callID } = await alice.client.callInvite(["bob"], { timeout: 1 });
  await alice.waitFor("callUserStateChanged", (data) =>
    data.callUserList.some((u) => u.userID === "bob" && u.state === CallUserState.Timeout),
  );

  const again = await openRawSocket(server.url);
  try {
    const back = await login(again, "bob", { epoch, seq: 0 });
    expect(back).toMatchObject({ id: 1, ok: true });
    const frames = await framesUntilReply(again, 2);
    const rang = frames.filter((f) => f.ev === "callInvitationReceived");
    expect(rang, JSON.stringify(frames)).toEqual([]);
    expect(back.data).toMatchObject({ resumed: false });
    expect(frames.filter((f) => f.data?.callID === callID)).toEqual([]);
  } finally {
    await again.close();
  }
});

/** Frames until one matching `match` (kept), failing after a few seconds. */
async function until(raw: RawSocket, match: (frame: Frame) => boolean): Promise<Frame[]> {
  const frames: Frame[] = [];
  const deadline = Date.now() + 10_000;
  for (;;) {
    const left = deadline - Date.now();
    const frame = (await Promise.race([
      raw.next(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no such frame: ${JSON.stringify(frames)}`)), left),
      ),
    ])) as Frame;
    frames.push(frame);
    if (match(frame)) return frames;
  }
}

it("a resync does not invite a device again to a call it already shows: it is told where everyone stands", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  const first = await openRawSocket(server.url);
  await login(first, "bob");
  const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
  const rang = await until(first, (f) => f.ev === "callInvitationReceived");
  expect(rang.at(-1)?.data?.callID).toBe(callID);
  await first.close();

  // bob's app comes back without its stream position (a resync), saying it shows the call.
  const again = await openRawSocket(server.url);
  try {
    const back = await login(again, "bob", undefined, [callID]);
    expect(back).toMatchObject({ id: 1, ok: true, data: { resumed: false } });
    const frames = await until(again, (f) => f.data?.callID === callID);
    expect(frames.at(-1)).toMatchObject({
      ev: "callUserStateChanged",
      data: {
        callID,
        callUserList: expect.arrayContaining([
          expect.objectContaining({ userID: "bob", state: CallUserState.Inviting }),
        ]),
      },
    });
    const all = [...frames, ...(await framesUntilReply(again, 2))];
    expect(all.filter((f) => f.ev === "callInvitationReceived")).toEqual([]);
  } finally {
    await again.close();
  }
});

it("a call closing while a device logs in is told to it once: the live event and the login picture share one epoch", async () => {
  // Records what is published, so the test knows when the login picture's closing event was.
  class Recording extends MemoryStreamBroker {
    readonly published: Publication[] = [];
    readonly waiters = new Set<() => void>();
    override async publish(batch: readonly Publication[]) {
      const positions = await super.publish(batch);
      this.published.push(...batch);
      for (const wake of this.waiters) wake();
      return positions;
    }
    async count(match: (p: Publication) => boolean, n: number): Promise<void> {
      while (this.published.filter(match).length < n)
        await new Promise<void>((resolve) => {
          const wake = () => {
            this.waiters.delete(wake);
            resolve();
          };
          this.waiters.add(wake);
        });
    }
  }
  const broker = new Recording();
  // bob's second login waits in onConnect (before its picture) until the test lets it go.
  let gate: (() => void) | null = null;
  let atGate: (() => void) | null = null;
  const reachedGate = new Promise<void>((resolve) => {
    atGate = resolve;
  });
  let bobLogins = 0;
  const server = await world.server({
    services: {
      broker,
      hooks: [
        {
          name: "gate",
          onConnect: async (device) => {
            if (device.userID !== "bob" || ++bobLogins < 2) return;
            await new Promise<void>((resolve) => {
              gate = resolve;
              atGate?.();
            });
          },
        },
      ],
    },
  });
  const alice = await world.device(server, "alice");
  const first = await openRawSocket(server.url);
  await login(first, "bob");
  const { callID } = await alice.client.callInvite(["bob"], { timeout: 60 });
  await until(first, (f) => f.ev === "callInvitationReceived");
  await first.close();

  const again = await openRawSocket(server.url);
  try {
    const back = await login(again, "bob", undefined, [callID]);
    expect(back).toMatchObject({ ok: true, data: { resumed: false } });
    await reachedGate;
    // The call ends now: bob's new stream gets the live cancel...
    await alice.client.callCancel([], callID, {});
    await until(again, (f) => f.ev === "callInvitationCancelled");
    // ...and his login picture, let go now, finds the call closed and tells him so too.
    const cancelOf = (p: Publication) =>
      p.stream.startsWith("bob\u0000") && p.payload.includes('"callInvitationCancelled"');
    (gate as (() => void) | null)?.();
    await broker.count(cancelOf, 2);
    const frames = await framesUntilReply(again, 2);
    expect(
      frames.filter((f) => f.ev === "callInvitationCancelled"),
      JSON.stringify(frames),
    ).toEqual([]);
  } finally {
    await again.close();
  }
});
