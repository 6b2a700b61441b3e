// Pins the advanced-mode operations of SPEC §3–§5: callingInvite, callJoin (with the device switch),
// callQuit, callEnd and the partial cancel, with who hears what on which device.
import { type Call, type CallCommand, timersOf } from "@beckon/engine";
import { CallInvitationMode, CallState, CallUserState, ErrorCode } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import {
  accept,
  apply,
  applyChanged,
  CALLER,
  callingInvite,
  cancel,
  deliveriesOf,
  deviceBack,
  deviceLost,
  drive,
  end,
  expectNoOp,
  expectRefused,
  fire,
  INVITEES,
  Inboxes,
  join,
  laptop,
  logout,
  memberOf,
  OUTSIDER,
  phone,
  quit,
  receipt,
  reject,
  SECOND,
  settings,
  startAdvancedCall,
  stateOf,
  T0,
} from "./fixtures.js";

const ADVANCED = CallInvitationMode.Advanced;
const DEADLINE = T0 + 90 * SECOND;
const T1 = T0 + 10 * SECOND;
const T2 = T0 + 20 * SECOND;

function stateChange(...list: [userID: string, state: CallUserState, extendedData?: string][]) {
  return {
    name: "callUserStateChanged",
    data: {
      callID: "call-1",
      callUserList: list.map(([userID, state, extendedData = ""]) => ({
        userID,
        state,
        extendedData,
      })),
    },
  };
}

function cancelled(inviter: string, extendedData = "") {
  return {
    name: "callInvitationCancelled",
    data: { callID: "call-1", mode: ADVANCED, inviter, extendedData },
  };
}

/** Alice called bob and carol; bob accepted on his phone, carol still rings on every device. */
const bobIn = () => drive(startAdvancedCall({ invitees: ["bob", "carol"] }), accept("bob"));

describe("callingInvite", () => {
  it("adds the new users Inviting, invited by the actor, with the call's timeout from now", () => {
    const call = bobIn();
    const decision = applyChanged(call, callingInvite("bob", ["dave", "erin"]), T1);
    expect(decision.reply).toEqual({ callID: "call-1", errorUserList: [] });
    expect(decision.call.version).toBe(call.version + 1);
    expect(decision.call.members.slice(3)).toEqual(
      ["dave", "erin"].map((userID) => ({
        userID,
        state: CallUserState.Inviting,
        inviter: "bob",
        extendedData: "",
        inviteTime: T1,
        deadline: T1 + 90 * SECOND,
        acceptTime: 0,
        quitTime: 0,
        mainDevice: null,
        pushed: false,
      })),
    );
    expect(decision.call.state).toBe(CallState.Started);
  });

  it("rings only the new invitees and tells the other active members of them", () => {
    const decision = applyChanged(bobIn(), callingInvite("bob", ["dave", "erin"]), T1);
    const callUserList = [
      { userID: CALLER, state: CallUserState.Accepted, extendedData: "" },
      { userID: "bob", state: CallUserState.Accepted, extendedData: "" },
      { userID: "carol", state: CallUserState.Inviting, extendedData: "" },
      { userID: "dave", state: CallUserState.Inviting, extendedData: "" },
      { userID: "erin", state: CallUserState.Inviting, extendedData: "" },
    ];
    const received = {
      name: "callInvitationReceived",
      data: {
        callID: "call-1",
        mode: ADVANCED,
        caller: CALLER,
        inviter: "bob",
        extendedData: "",
        timeout: 90,
        createTime: T0,
        callUserList,
        deadline: T1 + 90 * SECOND,
      },
    };
    const newcomers = stateChange(
      ["dave", CallUserState.Inviting],
      ["erin", CallUserState.Inviting],
    );
    expect(decision.deliveries).toEqual([
      { to: { userID: "dave" }, event: received },
      { to: { userID: "erin" }, event: received },
      { to: { userID: CALLER, device: phone(CALLER) }, event: newcomers },
      { to: { userID: "bob", device: phone("bob") }, event: newcomers },
      { to: { userID: "carol" }, event: newcomers },
    ]);
  });

  it("re-invites a terminal member: Inviting again, new inviter and deadline, every device rings", () => {
    const call = drive(bobIn(), [reject("carol", laptop("carol"), "busy"), T1]);
    expect(memberOf(call, "carol").mainDevice).toBe(laptop("carol"));
    const decision = applyChanged(call, callingInvite("bob", ["carol"]), T2);
    expect(memberOf(decision.call, "carol")).toEqual({
      userID: "carol",
      state: CallUserState.Inviting,
      inviter: "bob",
      extendedData: "",
      inviteTime: T2,
      deadline: T2 + 90 * SECOND,
      acceptTime: 0,
      quitTime: 0,
      mainDevice: null,
      pushed: false,
    });
    expect(decision.call.members.map((m) => m.userID)).toEqual([CALLER, "bob", "carol"]);
    expect(decision.deliveries.map((d) => [d.to, d.event.name])).toEqual([
      [{ userID: "carol" }, "callInvitationReceived"],
      [{ userID: CALLER, device: phone(CALLER) }, "callUserStateChanged"],
      [{ userID: "bob", device: phone("bob") }, "callUserStateChanged"],
    ]);
    expect(deliveriesOf(decision, "callInvitationReceived")[0]?.event.data).toMatchObject({
      inviter: "bob",
      deadline: T2 + 90 * SECOND,
    });
  });

  it("re-invites a member who quit, the caller included", () => {
    const call = drive(bobIn(), quit(CALLER));
    const decision = applyChanged(call, callingInvite("bob", [CALLER]), T1);
    expect(memberOf(decision.call, CALLER)).toMatchObject({
      state: CallUserState.Inviting,
      inviter: "bob",
      mainDevice: null,
      quitTime: 0,
      acceptTime: 0,
    });
    expect(deliveriesOf(decision, "callInvitationReceived").map((d) => d.to)).toEqual([
      { userID: CALLER },
    ]);
  });

  it("sends users already active to errorUserList with CallUserAlreadyInTheCall", () => {
    const decision = applyChanged(bobIn(), callingInvite("bob", [CALLER, "carol", "dave"]));
    expect(decision.reply.errorUserList).toEqual([
      { userID: CALLER, reason: ErrorCode.CallUserAlreadyInTheCall },
      { userID: "carol", reason: ErrorCode.CallUserAlreadyInTheCall },
    ]);
    expect(decision.call.members.map((m) => m.userID)).toEqual([CALLER, "bob", "carol", "dave"]);
    expect(stateOf(decision.call, "carol")).toBe(CallUserState.Inviting);
  });

  it("sends unknown users, invalid IDs and the actor itself to errorUserList", () => {
    const decision = applyChanged(
      bobIn(),
      callingInvite("bob", ["ghost", "bad id", "bob", "dave", "dave"]),
    );
    expect(decision.reply.errorUserList).toEqual([
      { userID: "ghost", reason: ErrorCode.CallInviteUserDoesNotExist },
      { userID: "bad id", reason: ErrorCode.ParamsInvalid },
      { userID: "bob", reason: ErrorCode.ParamsInvalid },
    ]);
    expect(decision.call.members.map((m) => m.userID)).toEqual([CALLER, "bob", "carol", "dave"]);
  });

  it.each([
    ["only users already in the call", [CALLER, "carol"], ErrorCode.CallUserAlreadyInTheCall],
    ["only unknown users", ["ghost", "phantom"], ErrorCode.CallInviteUserDoesNotExist],
    ["unknown users and members", ["ghost", "carol"], ErrorCode.CallInviteUserDoesNotExist],
    ["only invalid IDs and itself", ["bad id", "bob"], ErrorCode.ParamsInvalid],
    ["an empty list", [], ErrorCode.ParamsInvalid],
  ])("fails when nobody can be invited: %s", (_, invitees, code) => {
    expectRefused(bobIn(), callingInvite("bob", invitees), code);
  });

  describe("the ten-active-member cap", () => {
    /** Alice and nine invitees, bob Accepted: ten active members. */
    const full = () => drive(startAdvancedCall({ invitees: INVITEES.slice(0, 9) }), accept("bob"));

    it("fails with CallLimitExceeded when the call already holds ten active members", () => {
      expectRefused(full(), callingInvite("bob", ["kim"]), ErrorCode.CallLimitExceeded);
    });

    it("counts active members only: a terminal member frees a place", () => {
      const call = drive(full(), reject("judy"));
      const decision = applyChanged(call, callingInvite("bob", ["kim"]));
      expect(stateOf(decision.call, "kim")).toBe(CallUserState.Inviting);
      expect(decision.call.members.filter((m) => m.state !== CallUserState.Rejected)).toHaveLength(
        10,
      );
    });

    it("refuses the whole list when it would overflow, inviting nobody", () => {
      const call = drive(full(), reject("judy"));
      expectRefused(call, callingInvite("bob", ["kim", "leo"]), ErrorCode.CallLimitExceeded);
    });

    it("counts a re-invited terminal member as one more active member", () => {
      const call = drive(full(), reject("judy"), callingInvite("bob", ["kim"]));
      expectRefused(call, callingInvite("bob", ["judy"]), ErrorCode.CallLimitExceeded);
    });

    it("does not count the users that go to errorUserList", () => {
      const call = drive(full(), reject("judy"));
      const decision = applyChanged(call, callingInvite("bob", ["kim", "ghost", "carol"]));
      expect(decision.call.members.map((m) => m.userID)).toContain("kim");
      expect(decision.reply.errorUserList.map((e) => e.userID)).toEqual(["ghost", "carol"]);
    });
  });

  describe("timers", () => {
    it("derives a deadline for each new invitee from the invite time", () => {
      const call = drive(bobIn(), [callingInvite("bob", ["dave"]), T1]);
      expect(timersOf(call, settings)).toEqual([
        { kind: "deadline", userID: "carol", at: DEADLINE },
        { kind: "deadline", userID: "dave", at: T1 + 90 * SECOND },
      ]);
    });

    it("derives the not-received check for new invitees when the call has it enabled", () => {
      const checked = drive(
        startAdvancedCall({ invitees: ["bob"], enableNotReceivedCheck: true, timeout: 30 }),
        receipt("bob"),
        accept("bob"),
        [callingInvite("bob", ["dave"]), T1],
      );
      expect(timersOf(checked, settings)).toEqual([
        { kind: "deadline", userID: "dave", at: T1 + 30 * SECOND },
        { kind: "notReceived", userID: "dave", at: T1 + settings.notReceivedCheckMs },
      ]);
      expectNoOp(checked, fire("notReceived", "dave"), T1 + settings.notReceivedCheckMs - 1);
      const late = applyChanged(checked, fire("notReceived", "dave"), T1 + 5 * SECOND);
      expect(stateOf(late.call, "dave")).toBe(CallUserState.NotYetReceived);
    });

    it("re-arms a re-invited member: the old deadline does nothing, the new one times out", () => {
      const call = drive(bobIn(), [reject("carol"), T1], [callingInvite("bob", ["carol"]), T2]);
      expectNoOp(call, fire("deadline", "carol"), DEADLINE);
      const decision = applyChanged(call, fire("deadline", "carol"), T2 + 90 * SECOND);
      expect(stateOf(decision.call, "carol")).toBe(CallUserState.Timeout);
      expect(deliveriesOf(decision, "callInvitationTimeout").map((d) => d.to)).toEqual([
        { userID: "carol" },
      ]);
      // The call stays Started: alice and bob are still Accepted.
      expect(decision.call.state).toBe(CallState.Started);
    });
  });
});

describe("callJoin", () => {
  it("adds a user who is not a member as Accepted, invited by nobody, on the joining device", () => {
    const call = bobIn();
    const decision = applyChanged(call, join(OUTSIDER, laptop(OUTSIDER), "hi"), T1);
    expect(memberOf(decision.call, OUTSIDER)).toEqual({
      userID: OUTSIDER,
      state: CallUserState.Accepted,
      inviter: "",
      extendedData: "hi",
      inviteTime: T1,
      deadline: 0,
      acceptTime: T1,
      quitTime: 0,
      mainDevice: laptop(OUTSIDER),
      pushed: false,
    });
    expect(decision.reply).toEqual({
      callID: "call-1",
      createTime: T0,
      joinTime: T1,
      extendedData: "",
      callUserList: [
        { userID: CALLER, state: CallUserState.Accepted, extendedData: "" },
        { userID: "bob", state: CallUserState.Accepted, extendedData: "" },
        { userID: "carol", state: CallUserState.Inviting, extendedData: "" },
        { userID: OUTSIDER, state: CallUserState.Accepted, extendedData: "hi" },
      ],
    });
    const joined = stateChange([OUTSIDER, CallUserState.Accepted, "hi"]);
    expect(decision.deliveries).toEqual([
      { to: { userID: CALLER, device: phone(CALLER) }, event: joined },
      { to: { userID: "bob", device: phone("bob") }, event: joined },
      { to: { userID: "carol" }, event: joined },
      { to: { userID: OUTSIDER, device: laptop(OUTSIDER) }, event: joined },
      // The joiner's other devices: one last word (SPEC §5 Multi-device).
      { to: { userID: OUTSIDER, exceptDevice: laptop(OUTSIDER) }, event: joined },
    ]);
  });

  it("returns the call's own extendedData, not the joiner's", () => {
    const call = drive(
      startAdvancedCall({ invitees: ["bob"], extendedData: "room 7" }),
      accept("bob"),
    );
    const decision = applyChanged(call, join(OUTSIDER, phone(OUTSIDER), "mine"));
    expect(decision.reply).toMatchObject({ extendedData: "room 7" });
  });

  it("counts as accepting for a pending invitee: inviter kept, deadline gone", () => {
    const decision = applyChanged(bobIn(), join("carol", laptop("carol"), "joining"), T1);
    expect(memberOf(decision.call, "carol")).toMatchObject({
      state: CallUserState.Accepted,
      inviter: CALLER,
      extendedData: "joining",
      acceptTime: T1,
      deadline: 0,
      mainDevice: laptop("carol"),
    });
    expect(timersOf(decision.call, settings)).toEqual([]);
    expect(decision.deliveries.filter((d) => d.to.userID === "carol").map((d) => d.to)).toEqual([
      { userID: "carol", device: laptop("carol") },
      { userID: "carol", exceptDevice: laptop("carol") },
    ]);
  });

  it("brings back a member who quit, with a new acceptTime and no quitTime", () => {
    const call = drive(bobIn(), [quit("bob"), T1]);
    const decision = applyChanged(call, join("bob", laptop("bob")), T2);
    expect(memberOf(decision.call, "bob")).toMatchObject({
      state: CallUserState.Accepted,
      acceptTime: T2,
      quitTime: 0,
      mainDevice: laptop("bob"),
    });
    expect(decision.reply).toMatchObject({ joinTime: T2 });
  });

  describe("from another device of an Accepted member: a device switch", () => {
    it("moves the main device, keeps everything else, and tells nobody at all", () => {
      const call = drive(bobIn(), [receipt("carol"), T1]);
      const decision = applyChanged(call, join("bob", laptop("bob"), "ignored"), T2);
      expect(decision.deliveries).toEqual([]);
      expect(memberOf(decision.call, "bob")).toEqual({
        ...memberOf(call, "bob"),
        mainDevice: laptop("bob"),
      });
      expect(decision.call.version).toBe(call.version + 1);
      expect(decision.reply).toEqual({
        callID: "call-1",
        createTime: T0,
        joinTime: T0,
        extendedData: "",
        callUserList: [
          { userID: CALLER, state: CallUserState.Accepted, extendedData: "" },
          { userID: "bob", state: CallUserState.Accepted, extendedData: "" },
          { userID: "carol", state: CallUserState.Received, extendedData: "" },
        ],
      });
    });

    it("sends everything after it to the new main device only", () => {
      const call = drive(bobIn(), join("bob", laptop("bob")));
      const decision = applyChanged(call, receipt("carol"));
      expect(decision.deliveries.filter((d) => d.to.userID === "bob").map((d) => d.to)).toEqual([
        { userID: "bob", device: laptop("bob") },
      ]);
    });

    it("can switch back, and fails from the device that already is the main one", () => {
      const call = drive(bobIn(), join("bob", laptop("bob")));
      expectRefused(call, join("bob", laptop("bob")), ErrorCode.CallUserAlreadyInTheCall);
      const back = applyChanged(call, join("bob", phone("bob")));
      expect(memberOf(back.call, "bob").mainDevice).toBe(phone("bob"));
      expect(back.deliveries).toEqual([]);
    });

    it("works for the caller too", () => {
      const decision = applyChanged(bobIn(), join(CALLER, laptop(CALLER)));
      expect(memberOf(decision.call, CALLER).mainDevice).toBe(laptop(CALLER));
      expect(decision.deliveries).toEqual([]);
    });

    it("is not refused by the cap: the member is already counted", () => {
      const call = drive(startAdvancedCall({ invitees: INVITEES.slice(0, 9) }), accept("bob"));
      expect(memberOf(applyChanged(call, join("bob", laptop("bob"))).call, "bob").mainDevice).toBe(
        laptop("bob"),
      );
    });
  });

  it("fails with CallUserAlreadyInTheCall from the main device, for the caller too", () => {
    expectRefused(bobIn(), join("bob"), ErrorCode.CallUserAlreadyInTheCall);
    expectRefused(bobIn(), join(CALLER), ErrorCode.CallUserAlreadyInTheCall);
  });

  describe("the ten-active-member cap", () => {
    const full = () => startAdvancedCall({ invitees: INVITEES.slice(0, 9) });

    it("fails with CallLimitExceeded for a newcomer when ten members are active", () => {
      expectRefused(full(), join(OUTSIDER), ErrorCode.CallLimitExceeded);
    });

    it("fails with CallLimitExceeded for a terminal member coming back", () => {
      const call = drive(full(), reject("bob"), callingInvite(CALLER, ["kim"]));
      expectRefused(call, join("bob", laptop("bob")), ErrorCode.CallLimitExceeded);
    });

    it("lets a pending invitee join: it is already counted", () => {
      const decision = applyChanged(full(), join("judy"));
      expect(stateOf(decision.call, "judy")).toBe(CallUserState.Accepted);
    });

    it("lets a newcomer in once somebody left", () => {
      const call = drive(full(), reject("bob"));
      expect(stateOf(applyChanged(call, join(OUTSIDER)).call, OUTSIDER)).toBe(
        CallUserState.Accepted,
      );
    });
  });

  it.each([
    ["callEnd", (call: Call) => drive(call, end("bob"))],
    ["everybody left", (call: Call) => drive(call, reject("carol"), quit("bob"), quit(CALLER))],
  ])("fails with CallCommonError after the call ended (%s)", (_, finish) => {
    const call = finish(bobIn());
    expect(call.state).toBe(CallState.Ended);
    expectRefused(call, join(OUTSIDER), ErrorCode.CallCommonError);
    expectRefused(call, join("bob", laptop("bob")), ErrorCode.CallCommonError);
  });

  it("rejects oversized extendedData with ParamsInvalid", () => {
    expectRefused(
      bobIn(),
      join(OUTSIDER, phone(OUTSIDER), "x".repeat(2049)),
      ErrorCode.ParamsInvalid,
    );
  });
});

describe("callQuit", () => {
  it("makes the member Quit and tells the other active members and the quitter's main device", () => {
    const call = bobIn();
    const decision = applyChanged(call, quit("bob", phone("bob"), "bye"), T1);
    expect(memberOf(decision.call, "bob")).toMatchObject({
      state: CallUserState.Quit,
      extendedData: "bye",
      quitTime: T1,
      mainDevice: phone("bob"),
    });
    expect(decision.reply).toEqual({
      callID: "call-1",
      createTime: T0,
      acceptTime: T0,
      quitTime: T1,
    });
    const quitted = stateChange(["bob", CallUserState.Quit, "bye"]);
    expect(decision.deliveries).toEqual([
      { to: { userID: CALLER, device: phone(CALLER) }, event: quitted },
      { to: { userID: "carol" }, event: quitted },
      { to: { userID: "bob", device: phone("bob") }, event: quitted },
    ]);
    expect(decision.call.state).toBe(CallState.Started);
  });

  it("leaves the call running while a pending invitee is left, even when the caller quits", () => {
    const call = drive(bobIn(), quit("bob"));
    const decision = applyChanged(call, quit(CALLER), T1);
    expect(decision.call.state).toBe(CallState.Started);
    expect(stateOf(decision.call, CALLER)).toBe(CallUserState.Quit);
  });

  it("ends the call by itself when nobody is active any more, with no callInvitationEnded", () => {
    const call = drive(bobIn(), reject("carol"), quit("bob"));
    const decision = applyChanged(call, quit(CALLER, phone(CALLER), "last"), T1);
    expect(decision.call).toMatchObject({ state: CallState.Ended, endTime: T1 });
    expect(deliveriesOf(decision, "callInvitationEnded")).toEqual([]);
    // Only the quitter itself hears of its quit: nobody else is active.
    expect(decision.deliveries).toEqual([
      {
        to: { userID: CALLER, device: phone(CALLER) },
        event: stateChange([CALLER, CallUserState.Quit, "last"]),
      },
    ]);
    expect(timersOf(decision.call, settings)).toEqual([]);
  });

  it("ends the call when the last pending invitee times out after everybody quit", () => {
    const call = drive(bobIn(), quit("bob"), quit(CALLER));
    const decision = applyChanged(call, fire("deadline", "carol"), DEADLINE);
    expect(decision.call).toMatchObject({ state: CallState.Ended, endTime: DEADLINE });
    // Only carol hears of it: her timeout, and (SPEC §4) her own new state.
    expect(decision.deliveries.map((d) => [d.to, d.event.name])).toEqual([
      [{ userID: "carol" }, "callInvitationTimeout"],
      [{ userID: "carol" }, "callUserStateChanged"],
    ]);
  });

  it("fails with CallCommonError on an ended call, and leaves it as it is", () => {
    const call = drive(bobIn(), end(CALLER));
    expectRefused(call, quit("bob"), ErrorCode.CallCommonError);
    expectRefused(call, quit(CALLER), ErrorCode.CallCommonError);
  });

  it("rejects oversized extendedData with ParamsInvalid", () => {
    expectRefused(bobIn(), quit("bob", phone("bob"), "x".repeat(2049)), ErrorCode.ParamsInvalid);
  });
});

describe("callEnd", () => {
  /** Alice; bob Accepted on his laptop; carol pending; dave Rejected; erin Quit. */
  const crowded = () =>
    drive(
      startAdvancedCall({ invitees: ["bob", "carol", "dave", "erin"] }),
      accept("bob", laptop("bob")),
      reject("dave"),
      accept("erin"),
      quit("erin"),
    );

  it("ends the call and leaves every member's state as it is", () => {
    const call = crowded();
    const decision = applyChanged(call, end("bob", laptop("bob"), "done"), T1);
    expect(decision.call).toMatchObject({ state: CallState.Ended, endTime: T1 });
    expect(decision.call.members).toEqual(call.members);
    expect(decision.reply).toEqual({
      callID: "call-1",
      createTime: T0,
      acceptTime: T0,
      endTime: T1,
    });
    expect(timersOf(decision.call, settings)).toEqual([]);
  });

  it("tells the main devices of the pending and Accepted members, and nobody terminal", () => {
    const decision = applyChanged(crowded(), end("bob", laptop("bob"), "done"), T1);
    const ended = {
      name: "callInvitationEnded",
      data: {
        callID: "call-1",
        mode: ADVANCED,
        caller: CALLER,
        operatedUserID: "bob",
        extendedData: "done",
        endTime: T1,
      },
    };
    expect(decision.deliveries).toEqual([
      { to: { userID: CALLER, device: phone(CALLER) }, event: ended },
      { to: { userID: "bob", device: laptop("bob") }, event: ended },
      // Carol has no main device yet: every device of hers still rings.
      { to: { userID: "carol" }, event: ended },
    ]);
  });

  it("leaves nothing to do afterwards", () => {
    const call = drive(crowded(), [end(CALLER), T1]);
    expectNoOp(call, receipt("carol"), T2);
    expectNoOp(call, fire("deadline", "carol"), DEADLINE);
    expectNoOp(call, deviceLost(CALLER), T2);
    expectNoOp(call, logout(CALLER), T2);
    const refusals: [CallCommand, ErrorCode][] = [
      [accept("carol"), ErrorCode.CallCommonError],
      [reject("carol"), ErrorCode.CallCommonError],
      [end("bob", laptop("bob")), ErrorCode.CallCommonError],
      [quit("bob"), ErrorCode.CallCommonError],
      [callingInvite("bob", ["frank"]), ErrorCode.CallCommonError],
      [join(OUTSIDER), ErrorCode.CallCommonError],
      [cancel(), ErrorCode.CallCancelError],
      [cancel(CALLER, ["carol"]), ErrorCode.CallCancelError],
    ];
    for (const [command, code] of refusals) expectRefused(call, command, code, T2);
  });

  it("rejects oversized extendedData with ParamsInvalid", () => {
    expectRefused(bobIn(), end("bob", phone("bob"), "x".repeat(2049)), ErrorCode.ParamsInvalid);
  });
});

describe("partial cancel (callCancel with a list in an advanced call)", () => {
  /** Alice invited bob and carol; bob accepted and invited dave and erin. */
  const twoInviters = () => drive(bobIn(), callingInvite("bob", ["dave", "erin"]));

  it("makes the listed invitees of the actor BeCancelled and the call goes on", () => {
    const call = twoInviters();
    const decision = applyChanged(call, cancel("bob", ["dave"], phone("bob"), "sorry"), T1);
    expect(decision.reply).toEqual({ callID: "call-1", errorInvitees: [] });
    expect(stateOf(decision.call, "dave")).toBe(CallUserState.BeCancelled);
    expect(stateOf(decision.call, "erin")).toBe(CallUserState.Inviting);
    expect(decision.call.state).toBe(CallState.Started);
    const changed = stateChange(["dave", CallUserState.BeCancelled]);
    expect(decision.deliveries).toEqual([
      { to: { userID: "dave" }, event: cancelled("bob", "sorry") },
      { to: { userID: CALLER, device: phone(CALLER) }, event: changed },
      { to: { userID: "bob", device: phone("bob") }, event: changed },
      { to: { userID: "carol" }, event: changed },
      { to: { userID: "erin" }, event: changed },
      // SPEC §4: dave's own devices are told his new state.
      { to: { userID: "dave" }, event: changed },
    ]);
    expect(timersOf(decision.call, settings).map((t) => t.userID)).toEqual(["carol", "erin"]);
  });

  it("lets the caller cancel its own pending invitees after somebody accepted", () => {
    const call = twoInviters();
    expectRefused(call, cancel(), ErrorCode.CallCancelError);
    const decision = applyChanged(call, cancel(CALLER, ["carol"]));
    expect(stateOf(decision.call, "carol")).toBe(CallUserState.BeCancelled);
    expect(deliveriesOf(decision, "callInvitationCancelled")).toEqual([
      { to: { userID: "carol" }, event: cancelled(CALLER) },
    ]);
  });

  it("puts listed users the actor did not invite, or who are not pending, in errorInvitees", () => {
    const call = drive(twoInviters(), reject("erin"));
    const decision = applyChanged(call, cancel("bob", ["dave", "carol", "erin", "ghost", "dave"]));
    expect(decision.reply.errorInvitees).toEqual(["carol", "erin", "ghost"]);
    expect(stateOf(decision.call, "dave")).toBe(CallUserState.BeCancelled);
    expect(stateOf(decision.call, "carol")).toBe(CallUserState.Inviting);
    expect(stateOf(decision.call, "erin")).toBe(CallUserState.Rejected);
  });

  it.each([
    ["the invitees of somebody else", "bob", ["carol"]],
    ["the caller's list of bob's invitees", CALLER, ["dave", "erin"]],
    ["a user who is not a member", OUTSIDER, ["dave"]],
    ["only non-members", "bob", ["ghost", OUTSIDER]],
  ])(
    "fails with CallIsNotInviter when nobody listed was invited by the actor: %s",
    (_, who, listed) => {
      expectRefused(twoInviters(), cancel(who, listed), ErrorCode.CallIsNotInviter);
    },
  );

  it("only the latest inviter of a re-invited member may cancel it", () => {
    const call = drive(bobIn(), reject("carol"), callingInvite("bob", ["carol"]));
    expectRefused(call, cancel(CALLER, ["carol"]), ErrorCode.CallIsNotInviter);
    expect(stateOf(applyChanged(call, cancel("bob", ["carol"])).call, "carol")).toBe(
      CallUserState.BeCancelled,
    );
  });

  it("changes nothing when none of the actor's listed invitees is still pending", () => {
    const call = drive(twoInviters(), reject("dave"));
    const decision = apply(call, cancel("bob", ["dave"]));
    expect(decision).toMatchObject({
      ok: true,
      changed: false,
      call,
      reply: { callID: "call-1", errorInvitees: ["dave"] },
      deliveries: [],
    });
  });

  it("fails with CallCancelError on an ended call", () => {
    const call = drive(twoInviters(), end(CALLER));
    expectRefused(call, cancel("bob", ["dave"]), ErrorCode.CallCancelError);
  });

  it("ends the call when it withdraws the last active member's invitation", () => {
    const call = drive(startAdvancedCall({ invitees: ["bob"] }), quit(CALLER));
    const decision = applyChanged(call, cancel(CALLER, ["bob"]), T1);
    expect(decision.call).toMatchObject({ state: CallState.Ended, endTime: T1 });
    // Alice quit before: she hears nothing more of this call; bob is told his own new state.
    expect(decision.deliveries).toEqual([
      { to: { userID: "bob" }, event: cancelled(CALLER) },
      { to: { userID: "bob" }, event: stateChange(["bob", CallUserState.BeCancelled]) },
    ]);
  });

  it("a full cancel (empty list) still cancels every pending invitee and ends the call", () => {
    const call = drive(startAdvancedCall({ invitees: ["bob", "carol"] }), reject("bob"));
    const decision = applyChanged(call, cancel());
    expect(decision.call.state).toBe(CallState.Ended);
    expect(stateOf(decision.call, "carol")).toBe(CallUserState.Cancelled);
  });
});

describe("caller lost in an advanced call", () => {
  const GRACE = settings.callerGraceMs;
  const lost = () => drive(startAdvancedCall({ invitees: ["bob"] }), [deviceLost(CALLER), T1]);

  it("is disarmed when the caller moves to another device with callJoin", () => {
    // SPEC §5: only the caller's *main* device losing its connection cancels the call.
    const moved = applyChanged(lost(), join(CALLER, laptop(CALLER)), T1 + SECOND).call;
    expect(moved.callerLostAt).toBe(0);
    expectNoOp(moved, fire("callerLost", CALLER), T1 + GRACE);
    expect(moved.state).toBe(CallState.Started);
  });

  it("is disarmed by a join, as by an accept", () => {
    const call = drive(lost(), [join(OUTSIDER), T1 + SECOND]);
    expect(call.callerLostAt).toBe(0);
    expectNoOp(call, fire("callerLost", CALLER), T1 + GRACE);
  });

  it.each([
    [
      "the caller-lost timer",
      (call: Call) => applyChanged(call, fire("callerLost", CALLER), T1 + GRACE),
    ],
    ["a full cancel", (call: Call) => applyChanged(call, cancel(CALLER, [], laptop(CALLER)), T2)],
  ])("tells a caller who has quit nothing when %s cancels the invitations", (_, finish) => {
    const call = drive(lost(), [quit(CALLER, laptop(CALLER)), T1 + SECOND]);
    const decision = finish(call);
    expect(decision.call.state).toBe(CallState.Ended);
    expect(stateOf(decision.call, "bob")).toBe(CallUserState.Cancelled);
    expect(decision.deliveries).toEqual([
      {
        to: { userID: "bob" },
        event: {
          name: "callInvitationCancelled",
          data: { callID: "call-1", mode: ADVANCED, inviter: CALLER, extendedData: "" },
        },
      },
      { to: { userID: "bob" }, event: stateChange(["bob", CallUserState.Cancelled]) },
    ]);
  });

  it("a caller who has quit logging out tells the caller nothing", () => {
    const call = drive(startAdvancedCall({ invitees: ["bob"] }), quit(CALLER));
    const decision = apply(call, logout(CALLER), T1);
    expect(decision.ok).toBe(true);
    if (!decision.ok) return;
    expect(decision.deliveries.filter((d) => d.to.userID === CALLER)).toEqual([]);
  });

  it("the device coming back after a switch is no longer the main device", () => {
    const moved = drive(lost(), [join(CALLER, laptop(CALLER)), T1 + SECOND]);
    expectNoOp(moved, deviceBack(CALLER), T2);
  });
});

describe("multi-device in an advanced call", () => {
  it("a re-invited member rings on every device again; accepting elsewhere moves the main device", () => {
    const inboxes = new Inboxes();
    let call = drive(bobIn(), quit("bob"));
    const steps: CallCommand[] = [
      callingInvite(CALLER, ["bob"]),
      receipt("carol"),
      accept("bob", laptop("bob"), "again"),
      reject("carol", laptop("carol")),
    ];
    const names: string[][] = [];
    for (const command of steps) {
      const decision = applyChanged(call, command);
      inboxes.deliver(decision.deliveries);
      names.push(decision.deliveries.filter((d) => d.to.userID === "bob").map((d) => d.event.name));
      call = decision.call;
    }
    expect(memberOf(call, "bob").mainDevice).toBe(laptop("bob"));
    expect(names).toEqual([
      ["callInvitationReceived"],
      ["callUserStateChanged"],
      ["callUserStateChanged", "callUserStateChanged"],
      ["callUserStateChanged"],
    ]);
    expect(inboxes.of(phone("bob")).map((e) => e.name)).toEqual([
      "callInvitationReceived",
      "callUserStateChanged", // carol's receipt, to every device
      "callUserStateChanged", // the last word: bob Accepted on the laptop
    ]);
    expect(inboxes.of(phone("bob")).at(-1)).toEqual(
      stateChange(["bob", CallUserState.Accepted, "again"]),
    );
    expect(inboxes.of(laptop("bob"))).toHaveLength(4);
  });

  it("a device switch hands the call's events over from the old main device to the new one", () => {
    const inboxes = new Inboxes();
    let call = bobIn();
    for (const command of [receipt("carol"), join("bob", laptop("bob")), accept("carol")]) {
      const decision = applyChanged(call, command);
      inboxes.deliver(decision.deliveries);
      call = decision.call;
    }
    expect(inboxes.of(phone("bob"))).toEqual([stateChange(["carol", CallUserState.Received])]);
    expect(inboxes.of(laptop("bob"))).toEqual([stateChange(["carol", CallUserState.Accepted])]);
  });

  it("a quitting member's other devices hear nothing of the quit", () => {
    const decision = applyChanged(bobIn(), quit("bob", laptop("bob")));
    // Bob's phone is his main device; the laptop that sent callQuit only gets the reply.
    expect(decision.deliveries.filter((d) => d.to.userID === "bob").map((d) => d.to)).toEqual([
      { userID: "bob", device: phone("bob") },
    ]);
  });

  it("a member coming back on another device: its previous device gets one last word", () => {
    const call = drive(bobIn(), quit("bob"));
    const decision = applyChanged(call, join("bob", laptop("bob")));
    expect(decision.deliveries.filter((d) => d.to.userID === "bob").map((d) => d.to)).toEqual([
      { userID: "bob", device: laptop("bob") },
      { userID: "bob", exceptDevice: laptop("bob") },
    ]);
  });
});
