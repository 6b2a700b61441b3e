// Every operation × every role that must be refused: refused with the right code, no state
// change, no event to anyone. Roles: before login, a stranger, another call's member, a member
// who already left, the wrong device; and logins/renewals with expired, forged, `alg: none` and
// other users' tokens.
import { CallInvitationMode, ErrorCode, PROTOCOL_VERSION } from "@beckon/protocol";
import { signToken } from "@beckon/server";
import { SignJWT, UnsecuredJWT } from "jose";
import { expect, it } from "vitest";
import { openRawSocket } from "./support/raw-socket.js";
import { SECRET, useWorld } from "./support/world.js";

const world = useWorld();
type Frame = Record<string, unknown>;
const NO_REPLY = -2;

/** A raw protocol connection that keeps apart replies (by id) and pushed events. */
async function connection(url: string) {
  const raw = await openRawSocket(url);
  const events: Frame[] = [];
  const waiting = new Map<number, (frame: Frame) => void>();
  let nextID = 1;
  const pump = async () => {
    for (;;) {
      const frame = await raw.next();
      const wake = typeof frame.id === "number" ? waiting.get(frame.id) : undefined;
      if (wake) wake(frame);
      else if ("ev" in frame) events.push(frame);
    }
  };
  void pump();
  return {
    events,
    close: () => raw.close(),
    ask(op: string, data: unknown): Promise<Frame> {
      const id = nextID++;
      // A refusal must be answered; silence is reported as code -2 instead of hanging the test.
      const reply = new Promise<Frame>((resolve) => {
        const guard = setTimeout(() => resolve({ ok: false, error: { code: NO_REPLY } }), 10_000);
        waiting.set(id, (frame) => {
          clearTimeout(guard);
          resolve(frame);
        });
      });
      raw.socket.send(JSON.stringify({ id, op, data }));
      return reply;
    },
    /** Resolves with the reply's error code, or 0 for a success. */
    async code(op: string, data: unknown): Promise<number> {
      const reply = await this.ask(op, data);
      return reply.ok ? 0 : ((reply.error as { code: number }).code ?? -1);
    },
  };
}
type Connection = Awaited<ReturnType<typeof connection>>;

async function as(url: string, userID: string, deviceID = "main"): Promise<Connection> {
  const link = await connection(url);
  const token = await world.token(userID);
  const reply = await link.ask("login", {
    userID,
    token,
    deviceID,
    protocolVersion: PROTOCOL_VERSION,
  });
  expect(reply.ok, `${userID} logs in`).toBe(true);
  return link;
}

const snapshot = async (link: Connection) =>
  JSON.stringify(
    ((await link.ask("queryCallInvitationList", { count: 100 })).data as { callList: unknown[] })
      .callList,
  );

it("every operation a role may not perform is refused with its code, changing nothing", async () => {
  const server = await world.server();
  const { url } = server;
  const alice = await as(url, "alice");
  const bob = await as(url, "bob", "phone");
  const carol = await as(url, "carol");
  const frank = await as(url, "frank");
  const dave = await as(url, "dave");
  const erin = await as(url, "erin");
  const mallory = await as(url, "mallory");
  await (await as(url, "grace")).close();

  // Call X (advanced): alice calls; bob accepts on his phone, carol rejects, frank still rings.
  const invite = await alice.ask("callInvite", {
    invitees: ["bob", "carol", "frank"],
    timeout: 120,
    mode: CallInvitationMode.Advanced,
  });
  const x = (invite.data as { callID: string }).callID;
  expect(await bob.code("callAccept", { callID: x })).toBe(0);
  expect(await carol.code("callReject", { callID: x })).toBe(0);
  // Call Y (general): dave rings erin.
  const y = (
    (await dave.ask("callInvite", { invitees: ["erin"], timeout: 120 })).data as {
      callID: string;
    }
  ).callID;
  const bobTablet = await as(url, "bob", "tablet");
  const stranger = await connection(url);

  const before = [await snapshot(alice), await snapshot(dave)];
  const links = [alice, bob, carol, frank, dave, erin, mallory, bobTablet, stranger];
  const marks = links.map((link) => link.events.length);

  const onX = (extra: Record<string, unknown> = {}) => ({ callID: x, ...extra });
  const cells: Array<[string, Connection, string, unknown, ErrorCode]> = [];
  const allOps: Array<[string, unknown]> = [
    ["logout", {}],
    ["renewToken", { token: "t" }],
    ["ping", {}],
    ["callInvite", { invitees: ["alice"] }],
    ["callCancel", onX({ invitees: [] })],
    ["callAccept", onX()],
    ["callReject", onX()],
    ["callAck", onX()],
    ["callingInvite", onX({ invitees: ["grace"] })],
    ["callJoin", onX()],
    ["callQuit", onX()],
    ["callEnd", onX()],
    ["queryCallInvitationList", { count: 10 }],
    ["callTimeline", onX()],
  ];
  for (const [op, data] of allOps) {
    cells.push(["before login", stranger, op, data, ErrorCode.UserIsNotLogged]);
  }
  for (const [role, link] of [
    ["stranger", mallory],
    ["other call's member", erin],
  ] as const) {
    cells.push(
      [role, link, "callCancel", onX({ invitees: [] }), ErrorCode.CallIsNotInviter],
      [role, link, "callAccept", onX(), ErrorCode.CallIsNotInvitee],
      [role, link, "callReject", onX(), ErrorCode.CallIsNotInvitee],
      [role, link, "callAck", onX(), ErrorCode.CallDoesNotExist],
      [role, link, "callingInvite", onX({ invitees: ["grace"] }), ErrorCode.CallCommonError],
      [role, link, "callQuit", onX(), ErrorCode.CallCommonError],
      [role, link, "callEnd", onX(), ErrorCode.CallCommonError],
      [role, link, "callTimeline", onX(), ErrorCode.CallDoesNotExist],
    );
  }
  cells.push(
    [
      "other call's caller",
      dave,
      "callInvite",
      { invitees: ["mallory"] },
      ErrorCode.CallCommonError,
    ],
    ["stranger", mallory, "callCancel", { callID: y, invitees: [] }, ErrorCode.CallIsNotInviter],
    ["stranger", mallory, "callJoin", { callID: y }, ErrorCode.CallModeMismatch],
    ["member who left", carol, "callCancel", onX({ invitees: [] }), ErrorCode.CallIsNotInviter],
    ["member who left", carol, "callAccept", onX(), ErrorCode.CallCommonError],
    ["member who left", carol, "callReject", onX(), ErrorCode.CallCommonError],
    [
      "member who left",
      carol,
      "callingInvite",
      onX({ invitees: ["grace"] }),
      ErrorCode.CallCommonError,
    ],
    ["member who left", carol, "callQuit", onX(), ErrorCode.CallCommonError],
    ["member who left", carol, "callEnd", onX(), ErrorCode.CallCommonError],
    [
      "ringing invitee",
      frank,
      "callingInvite",
      onX({ invitees: ["grace"] }),
      ErrorCode.CallCommonError,
    ],
    ["ringing invitee", frank, "callQuit", onX(), ErrorCode.CallCommonError],
    ["ringing invitee", frank, "callEnd", onX(), ErrorCode.CallCommonError],
    ["ringing invitee", frank, "callCancel", onX({ invitees: [] }), ErrorCode.CallIsNotInviter],
    ["main device again", bob, "callJoin", onX(), ErrorCode.CallUserAlreadyInTheCall],
    ["wrong device", bobTablet, "callAccept", onX(), ErrorCode.CallCommonError],
    ["wrong device", bobTablet, "callReject", onX(), ErrorCode.CallCommonError],
  );

  const now = Math.floor(Date.now() / 1000);
  const expired = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("mallory")
    .setExpirationTime(now - 60)
    .sign(new TextEncoder().encode(SECRET));
  const forged = await signToken({ secret: "not-the-real-secret-0123", userID: "mallory" });
  const none = new UnsecuredJWT({})
    .setSubject("mallory")
    .setExpirationTime(now + 3600)
    .encode();
  const othersToken = await world.token("alice");
  const tokens: Array<[string, string, ErrorCode]> = [
    ["expired", expired, ErrorCode.TokenExpired],
    ["forged", forged, ErrorCode.TokenInvalid],
    ["alg none", none, ErrorCode.TokenInvalid],
    ["another user's", othersToken, ErrorCode.TokenInvalid],
  ];

  const wrong: string[] = [];
  for (const [role, link, op, data, expected] of cells) {
    const code = await link.code(op, data);
    if (code !== expected) wrong.push(`${role} ${op}: got ${code}, want ${expected}`);
  }
  for (const [name, token, expected] of tokens) {
    const fresh = await connection(url);
    const login = await fresh.code("login", {
      userID: "mallory",
      token,
      deviceID: "second",
      protocolVersion: PROTOCOL_VERSION,
    });
    if (login !== expected) wrong.push(`login with ${name} token: got ${login}, want ${expected}`);
    // Still refused as not logged in afterwards.
    const after = await fresh.code("queryCallInvitationList", { count: 1 });
    if (after !== ErrorCode.UserIsNotLogged) wrong.push(`after ${name} login: got ${after}`);
    await fresh.close();
    const renew = await mallory.code("renewToken", { token });
    if (renew !== expected) wrong.push(`renew with ${name} token: got ${renew}, want ${expected}`);
  }
  expect(wrong).toEqual([]);

  // Nothing changed and nobody was told anything; every session is still good.
  expect([await snapshot(alice), await snapshot(dave)]).toEqual(before);
  expect(await mallory.code("ping", {})).toBe(0);
  // A real change now reaches X's members; nothing from the refusals came before it.
  expect(await alice.code("callingInvite", onX({ invitees: ["grace"] }))).toBe(0);
  expect(await bob.code("ping", {})).toBe(0);
  links.forEach((link, index) => {
    const leaked = link.events
      .slice(marks[index])
      .filter((event) => !JSON.stringify(event.data).includes('"grace"'));
    expect(leaked, `events to connection ${index}`).toEqual([]);
  });
  for (const link of links) await link.close();
});
