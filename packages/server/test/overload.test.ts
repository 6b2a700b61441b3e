// Overload is refused, not queued: past its bound a node refuses new invitations at once with
// 6000020 (server busy, retryable), which the SDK and the ZIM façade surface as such, while
// calls already ringing keep working and the shed is counted. Real server, real sockets; the
// node is driven past its bound by real invitations and by a busy event loop.
import { CallUserState, ErrorCode, isRetryableError, PROTOCOL_VERSION } from "@beckon/protocol";
import { ZIM } from "@beckon/sdk";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { openRawSocket } from "./support/raw-socket.js";
import { havePostgres, postgresSchemas, postgresUrl } from "./support/services.js";
import { useWorld } from "./support/world.js";

afterEach(async () => {
  await ZIM.getInstance()?.destroy();
});

const world = useWorld();

async function metricsText(httpUrl: string): Promise<string> {
  return (await fetch(`${httpUrl}/metrics`)).text();
}

it("past its bound of pending invitations a node refuses the next one at once, and still takes answers", async () => {
  const server = await world.server({ overload: { maxPendingInvites: 1, maxLoopDelayMs: 0 } });
  const dave = await world.device(server, "dave");
  const bob = await world.device(server, "bob");
  const carol = await world.device(server, "carol");
  const raw = await openRawSocket(server.url);
  const token = await world.token("alice");
  const login = await raw.request(
    JSON.stringify({
      id: 1,
      op: "login",
      data: { userID: "alice", deviceID: "desk", token, protocolVersion: PROTOCOL_VERSION },
    }),
  );
  expect(login.ok).toBe(true);
  // A call already ringing alice.
  const { callID: ringing } = await dave.client.callInvite(["alice"], { timeout: 60 });
  const replies = new Map<number, Record<string, unknown>>();
  const allReplied = new Promise<void>((resolve) => {
    raw.socket.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      if (typeof frame.id === "number") replies.set(frame.id, frame);
      if (replies.has(10) && replies.has(11) && replies.has(12)) resolve();
    });
  });
  // Three requests the node reads together: the first invitation is still being handled when
  // the second arrives; the answer to the call already ringing is never shed.
  const tcp = (raw.socket as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
  tcp.cork();
  raw.socket.send(JSON.stringify({ id: 10, op: "callInvite", data: { invitees: ["bob"] } }));
  raw.socket.send(JSON.stringify({ id: 11, op: "callInvite", data: { invitees: ["carol"] } }));
  raw.socket.send(JSON.stringify({ id: 12, op: "callReject", data: { callID: ringing } }));
  tcp.uncork();
  await allReplied;
  expect(replies.get(10)).toMatchObject({ ok: true });
  expect(replies.get(11)).toMatchObject({ ok: false, error: { code: ErrorCode.ServerBusy } });
  expect(replies.get(12)).toMatchObject({ ok: true });
  const admitted = (replies.get(10)?.data as { callID?: string } | undefined)?.callID;
  await bob.waitFor("callInvitationReceived", (event) => event.callID === admitted);
  await dave.waitFor(
    "callUserStateChanged",
    (event) =>
      event.callID === ringing &&
      event.callUserList.some((u) => u.userID === "alice" && u.state === CallUserState.Rejected),
  );
  expect(await metricsText(server.httpUrl)).toContain(
    'beckon_requests_shed_total{op="callInvite",bound="pending_invites"} 1',
  );
  // Refused means nothing was done: carol was never rung, and alice may call again.
  const { callID: next } = await dave.client.callInvite(["carol"], { timeout: 60 });
  await carol.waitFor("callInvitationReceived", (event) => event.callID === next);
  expect(carol.events("callInvitationReceived").map((event) => event.inviter)).toEqual(["dave"]);
  await raw.close();
});

describe.runIf(await havePostgres())("on PostgreSQL", () => {
  const schemas = postgresSchemas();
  afterAll(() => schemas.dropAll());

  it("commits held up by the store fill the bound: the SDK and the ZIM façade get 6000020, retryable", async () => {
    const schema = schemas.create();
    const server = await world.server({
      store: `${postgresUrl}?schema=${schema}`,
      overload: { maxPendingInvites: 1, maxLoopDelayMs: 0 },
    });
    const bob = await world.device(server, "bob");
    const carol = await world.device(server, "carol");
    const dave = await world.device(server, "dave");
    const zim = ZIM.create({ appID: 1, server: server.url });
    if (!zim) throw new Error("no ZIM instance");
    await zim.login("alice", {
      token: await world.token("alice"),
      userName: "",
      isOfflineLogin: false,
    });
    // Another writer holds the calls table: commits wait, as when PostgreSQL is slow.
    const locker = new pg.Client({ connectionString: postgresUrl });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query(`LOCK TABLE ${schema}.calls IN EXCLUSIVE MODE`);
      const held = carol.client.callInvite(["bob"], { timeout: 30 });
      while (!(await metricsText(server.httpUrl)).includes("beckon_pending_invites 1")) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const viaZim = await zim.callInvite(["dave"], { timeout: 30 }).then(
        () => null,
        (error: { code: number }) => error,
      );
      expect(viaZim?.code).toBe(ErrorCode.ServerBusy);
      expect(isRetryableError(viaZim as { code: number })).toBe(true);
      await expect(dave.client.callInvite(["bob"], { timeout: 30 })).rejects.toMatchObject({
        code: ErrorCode.ServerBusy,
      });
      await locker.query("COMMIT");
      const { callID } = await held;
      await bob.waitFor("callInvitationReceived", (event) => event.callID === callID);
      // Once the store keeps up again, the same request is admitted.
      const retried = await zim.callInvite(["dave"], { timeout: 30 });
      await dave.waitFor("callInvitationReceived", (event) => event.callID === retried.callID);
    } finally {
      await locker.end();
    }
  });
});
