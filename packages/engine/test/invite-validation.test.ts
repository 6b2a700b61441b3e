// Pins callInvite (SPEC §3, §7): every error createCall can return, and what a good invite creates.
import { timersOf } from "@beckon/engine";
import {
  CallInvitationMode,
  CallState,
  CallUserState,
  ErrorCode,
  utf8Length,
} from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import {
  by,
  CALLER,
  deliveriesOf,
  INVITEES,
  invite,
  inviteCommand,
  laptop,
  phone,
  SECOND,
  settings,
  startCall,
  T0,
} from "./fixtures.js";

function errorCode(decision: ReturnType<typeof invite>): ErrorCode | "created" {
  return decision.ok ? "created" : decision.error.code;
}

describe("timeout", () => {
  it.each([
    ["absent", undefined],
    ["0", 0],
  ])("defaults to 90 s when %s", (_, timeout) => {
    const decision = invite({ timeout });
    expect(decision).toMatchObject({ ok: true, reply: { timeout: 90 }, call: { timeout: 90 } });
    if (decision.ok) expect(decision.call.members[1]?.deadline).toBe(T0 + 90 * SECOND);
  });

  it.each([1, 600])("accepts the boundary %i s", (timeout) => {
    const decision = invite({ timeout });
    expect(decision).toMatchObject({ ok: true, reply: { timeout } });
    if (decision.ok) expect(decision.call.members[1]?.deadline).toBe(T0 + timeout * SECOND);
  });

  it.each([601, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
    "fails with ParamsInvalid for %s",
    (timeout) => {
      expect(errorCode(invite({ timeout }))).toBe(ErrorCode.ParamsInvalid);
    },
  );
});

describe("mode", () => {
  it.each([CallInvitationMode.General, CallInvitationMode.Advanced])("accepts %i", (mode) => {
    expect(invite({ mode })).toMatchObject({ ok: true, call: { mode } });
  });

  it("defaults to general", () => {
    expect(invite({ mode: undefined })).toMatchObject({
      ok: true,
      call: { mode: CallInvitationMode.General },
    });
  });

  it.each([CallInvitationMode.Unknown, 2, 0.5])("fails with ParamsInvalid for %s", (mode) => {
    expect(errorCode(invite({ mode: mode as CallInvitationMode }))).toBe(ErrorCode.ParamsInvalid);
  });
});

describe("extendedData is limited to 2048 bytes of UTF-8, not 2048 characters", () => {
  // é is 2 bytes, € 3, 😀 4 (and two UTF-16 units).
  const atLimit: [string, string][] = [
    ["ASCII", "a".repeat(2048)],
    ["2-byte", "é".repeat(1024)],
    ["3-byte", `${"€".repeat(682)}ab`],
    ["4-byte", "😀".repeat(512)],
  ];
  const overLimit = atLimit.map(([name, text]): [string, string] => [name, `${text}a`]);

  it.each(atLimit)("accepts 2048 bytes of %s text", (_, extendedData) => {
    expect(utf8Length(extendedData)).toBe(2048);
    expect(invite({ extendedData })).toMatchObject({ ok: true, call: { extendedData } });
  });

  it.each(overLimit)("fails with ParamsInvalid for 2049 bytes of %s text", (_, extendedData) => {
    expect(utf8Length(extendedData)).toBe(2049);
    expect(errorCode(invite({ extendedData }))).toBe(ErrorCode.ParamsInvalid);
  });
});

describe("invitee list", () => {
  it("fails with ParamsInvalid when empty", () => {
    expect(errorCode(invite({ invitees: [] }))).toBe(ErrorCode.ParamsInvalid);
  });

  it("accepts nine distinct invitees", () => {
    const decision = invite({ invitees: INVITEES.slice(0, 9) });
    expect(decision.ok && decision.call.members.length).toBe(10);
  });

  it("fails with CallLimitExceeded for ten distinct invitees", () => {
    expect(errorCode(invite({ invitees: INVITEES.slice(0, 10) }))).toBe(
      ErrorCode.CallLimitExceeded,
    );
  });

  it("collapses duplicates before counting them", () => {
    const nine = INVITEES.slice(0, 9);
    const decision = invite({ invitees: [...nine, ...nine, "bob"] });
    expect(decision).toMatchObject({ ok: true, reply: { errorUserList: [] } });
    if (!decision.ok) return;
    expect(decision.call.members.map((m) => m.userID)).toEqual([CALLER, ...nine]);
  });

  it("sends invalid user IDs and the caller itself to errorUserList with ParamsInvalid", () => {
    const invalid = ["", "has space", "x".repeat(33), "ünïcode", "slash/ed", CALLER];
    const decision = invite({ invitees: ["bob", ...invalid, "x".repeat(32)] });
    expect(decision).toMatchObject({ ok: true });
    if (!decision.ok) return;
    expect(decision.reply.errorUserList).toEqual([
      ...invalid.map((userID) => ({ userID, reason: ErrorCode.ParamsInvalid })),
      // Valid (32 bytes is the upper limit) but nobody has that name.
      { userID: "x".repeat(32), reason: ErrorCode.CallInviteUserDoesNotExist },
    ]);
    expect(decision.call.members.map((m) => m.userID)).toEqual([CALLER, "bob"]);
  });

  it("sends unknown users to errorUserList with CallInviteUserDoesNotExist", () => {
    const decision = invite({ invitees: ["ghost", "bob", "phantom"] });
    expect(decision).toMatchObject({
      ok: true,
      reply: {
        errorUserList: [
          { userID: "ghost", reason: ErrorCode.CallInviteUserDoesNotExist },
          { userID: "phantom", reason: ErrorCode.CallInviteUserDoesNotExist },
        ],
      },
    });
    expect(decision.ok && decision.call.members.map((m) => m.userID)).toEqual([CALLER, "bob"]);
  });

  it.each([
    ["only unknown users", ["ghost"], ErrorCode.CallInviteUserDoesNotExist],
    [
      "unknown and invalid users",
      ["ghost", "bad id", CALLER],
      ErrorCode.CallInviteUserDoesNotExist,
    ],
    ["only invalid IDs", ["bad id", ""], ErrorCode.ParamsInvalid],
    ["only the caller itself", [CALLER, CALLER], ErrorCode.ParamsInvalid],
  ])("creates no call when there is no valid invitee: %s", (_, invitees, code) => {
    expect(errorCode(invite({ invitees }))).toBe(code);
  });
});

describe("busy rule", () => {
  it("fails with CallCommonError when the caller is Accepted in another running call", () => {
    expect(errorCode(invite({ invitees: ["bob", "carol"], callerBusy: true }))).toBe(
      ErrorCode.CallCommonError,
    );
  });
});

describe("a successful invite", () => {
  const command = inviteCommand({
    invitees: ["bob", "ghost", "carol"],
    timeout: 30,
    extendedData: "video",
    callID: "call-42",
  });

  it("creates a Started call with the caller Accepted on its device and invitees Inviting", () => {
    const decision = invite(command);
    expect(decision).toMatchObject({
      ok: true,
      changed: true,
      reply: {
        callID: "call-42",
        timeout: 30,
        errorUserList: [{ userID: "ghost", reason: ErrorCode.CallInviteUserDoesNotExist }],
      },
      call: {
        callID: "call-42",
        caller: CALLER,
        state: CallState.Started,
        createTime: T0,
        endTime: 0,
        version: 1,
        callerLostAt: 0,
        members: [
          { userID: CALLER, state: CallUserState.Accepted, mainDevice: phone(CALLER) },
          { userID: "bob", state: CallUserState.Inviting, inviter: CALLER, mainDevice: null },
          { userID: "carol", state: CallUserState.Inviting, inviter: CALLER, mainDevice: null },
        ],
      },
    });
  });

  it("tells every caller device and rings every device of each invitee with its deadline", () => {
    const decision = invite(command);
    if (!decision.ok) throw new Error("invite failed");
    const callUserList = [
      { userID: CALLER, state: CallUserState.Accepted, extendedData: "" },
      { userID: "bob", state: CallUserState.Inviting, extendedData: "" },
      { userID: "carol", state: CallUserState.Inviting, extendedData: "" },
    ];
    const common = {
      callID: "call-42",
      mode: CallInvitationMode.General,
      caller: CALLER,
      extendedData: "video",
      timeout: 30,
      createTime: T0,
      callUserList,
    };
    // Audiences without a device reach every online device of that user.
    expect(decision.deliveries).toEqual([
      { to: { userID: CALLER }, event: { name: "callInvitationCreated", data: common } },
      ...["bob", "carol"].map((userID) => ({
        to: { userID },
        event: {
          name: "callInvitationReceived",
          data: { ...common, inviter: CALLER, deadline: T0 + 30 * SECOND },
        },
      })),
    ]);
  });

  it("makes the inviting device the caller's main device, yet tells all of the caller's devices", () => {
    const decision = invite({ actor: by(CALLER, laptop(CALLER)) });
    if (!decision.ok) throw new Error("invite failed");
    expect(decision.call.members[0]?.mainDevice).toBe(laptop(CALLER));
    expect(deliveriesOf(decision, "callInvitationCreated").map((d) => d.to)).toEqual([
      { userID: CALLER },
    ]);
  });

  it("derives one deadline timer per invitee and nothing else by default", () => {
    const call = startCall({ invitees: ["bob", "carol"], timeout: 30 });
    expect(timersOf(call, settings)).toEqual([
      { kind: "deadline", userID: "bob", at: T0 + 30 * SECOND },
      { kind: "deadline", userID: "carol", at: T0 + 30 * SECOND },
    ]);
  });

  it("adds a not-received check per invitee only with enableNotReceivedCheck", () => {
    const call = startCall({
      invitees: ["bob", "carol"],
      timeout: 30,
      enableNotReceivedCheck: true,
    });
    expect(timersOf(call, settings)).toEqual([
      { kind: "deadline", userID: "bob", at: T0 + 30 * SECOND },
      { kind: "notReceived", userID: "bob", at: T0 + settings.notReceivedCheckMs },
      { kind: "deadline", userID: "carol", at: T0 + 30 * SECOND },
      { kind: "notReceived", userID: "carol", at: T0 + settings.notReceivedCheckMs },
    ]);
  });
});
