// Resume and resync as the wire shows them (raw frames, not the SDK's filtering): a device that
// comes back never hears an invitation ring after its deadline.
import { CallUserState, PROTOCOL_VERSION } from "@beckon/protocol";
import { expect, it } from "vitest";
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
