// Pins SPEC §6 for advanced calls: callAccept, callReject, callingInvite, callQuit and callEnd from
// every member state, callJoin by §3, and CallModeMismatch for the advanced-only operations.
import type { Call, CallCommand } from "@beckon/engine";
import { CallInvitationMode, CallState, CallUserState, ErrorCode } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import {
  accept,
  apply,
  CALLER,
  callingInvite,
  cancel,
  drive,
  end,
  expectRefused,
  fire,
  join,
  laptop,
  memberOf,
  OUTSIDER,
  phone,
  quit,
  receipt,
  reject,
  SECOND,
  startAdvancedCall,
  startCall,
  stateOf,
  T0,
} from "./fixtures.js";

const DEADLINE = T0 + 90 * SECOND;
const LATER = T0 + 10 * SECOND;

const bobAndCarol = () => startAdvancedCall({ invitees: ["bob", "carol"] });

/**
 * Bob in each state an advanced call can give him, reached through real commands. Carol is
 * invited too and left pending, so the call is still running wherever the rules allow it; only a
 * full cancel (the one way to make bob Cancelled) ends it.
 */
const bobIn: Record<string, { state: CallUserState; build: () => Call }> = {
  Inviting: { state: CallUserState.Inviting, build: bobAndCarol },
  NotYetReceived: {
    state: CallUserState.NotYetReceived,
    build: () =>
      drive(startAdvancedCall({ invitees: ["bob", "carol"], enableNotReceivedCheck: true }), [
        fire("notReceived", "bob"),
        T0 + 5 * SECOND,
      ]),
  },
  Received: {
    state: CallUserState.Received,
    build: () => drive(bobAndCarol(), receipt("bob")),
  },
  "Inviting again (re-invited after rejecting)": {
    state: CallUserState.Inviting,
    build: () => drive(bobAndCarol(), reject("bob"), callingInvite(CALLER, ["bob"])),
  },
  Accepted: {
    state: CallUserState.Accepted,
    build: () => drive(bobAndCarol(), accept("bob")),
  },
  "Accepted by callJoin": {
    state: CallUserState.Accepted,
    build: () => drive(bobAndCarol(), join("bob")),
  },
  Rejected: {
    state: CallUserState.Rejected,
    build: () => drive(bobAndCarol(), reject("bob")),
  },
  Cancelled: {
    state: CallUserState.Cancelled,
    build: () => drive(bobAndCarol(), cancel()),
  },
  BeCancelled: {
    state: CallUserState.BeCancelled,
    build: () => drive(bobAndCarol(), cancel(CALLER, ["bob"])),
  },
  Timeout: {
    state: CallUserState.Timeout,
    // Only bob's deadline timer fires, so carol is still pending.
    build: () => drive(bobAndCarol(), [fire("deadline", "bob"), DEADLINE]),
  },
  Quit: {
    state: CallUserState.Quit,
    build: () => drive(bobAndCarol(), accept("bob"), quit("bob")),
  },
};

type Row = keyof typeof bobIn;
const pendingStates: Row[] = [
  "Inviting",
  "NotYetReceived",
  "Received",
  "Inviting again (re-invited after rejecting)",
];
const acceptedStates: Row[] = ["Accepted", "Accepted by callJoin"];
const terminalStates: Row[] = ["Rejected", "Cancelled", "BeCancelled", "Timeout", "Quit"];

function scenario(name: Row): Call {
  const { state, build } = bobIn[name] as (typeof bobIn)[string];
  const call = build();
  // Guards the table itself: a row is only meaningful if bob really is in that state.
  expect(stateOf(call, "bob")).toBe(state);
  expect(call.mode).toBe(CallInvitationMode.Advanced);
  return call;
}

/** The call time at which a row's command runs: after the row's own steps. */
const timeOf = (name: Row) => (name === "Timeout" ? DEADLINE + SECOND : LATER);

describe.each([
  ["callAccept", accept, CallUserState.Accepted],
  ["callReject", reject, CallUserState.Rejected],
] as const)("%s in an advanced call", (_, command, outcome) => {
  it.each(pendingStates)("is allowed for an invitee in %s", (name) => {
    const call = scenario(name);
    const decision = apply(call, command("bob", laptop("bob"), "hello"), LATER);
    expect(decision).toMatchObject({ ok: true, changed: true, reply: { callID: call.callID } });
    if (!decision.ok) return;
    expect(memberOf(decision.call, "bob")).toMatchObject({
      state: outcome,
      extendedData: "hello",
      mainDevice: laptop("bob"),
    });
    expect(decision.call.state).toBe(CallState.Started);
    expect(decision.call.version).toBe(call.version + 1);
  });

  it.each([...acceptedStates, ...terminalStates])(
    "fails with CallCommonError for a member in %s",
    (name) => {
      expectRefused(scenario(name), command("bob"), ErrorCode.CallCommonError, timeOf(name));
    },
  );

  it("fails with CallIsNotInvitee for a user who is not a member", () => {
    expectRefused(scenario("Inviting"), command(OUTSIDER), ErrorCode.CallIsNotInvitee);
  });
});

/** The advanced-only operations by bob, each with what success looks like. */
const memberOps: [string, CallCommand, (before: Call, after: Call) => void][] = [
  [
    "callingInvite",
    callingInvite("bob", [OUTSIDER]),
    (before, after) => {
      expect(memberOf(after, OUTSIDER)).toMatchObject({
        state: CallUserState.Inviting,
        inviter: "bob",
        deadline: LATER + before.timeout * SECOND,
      });
      expect(after.state).toBe(CallState.Started);
    },
  ],
  [
    "callQuit",
    quit("bob", phone("bob"), "bye"),
    (_, after) => {
      expect(memberOf(after, "bob")).toMatchObject({
        state: CallUserState.Quit,
        quitTime: LATER,
        extendedData: "bye",
      });
      // Carol is still pending and the caller still Accepted: the call goes on.
      expect(after.state).toBe(CallState.Started);
    },
  ],
  [
    "callEnd",
    end("bob"),
    (before, after) => {
      expect(after).toMatchObject({ state: CallState.Ended, endTime: LATER });
      expect(after.members).toEqual(before.members);
    },
  ],
];

describe.each(memberOps)("%s", (_, command, succeeded) => {
  it.each(acceptedStates)("is allowed for a member in %s", (name) => {
    const call = scenario(name);
    const decision = apply(call, command, LATER);
    expect(decision).toMatchObject({ ok: true, changed: true, reply: { callID: call.callID } });
    if (!decision.ok) return;
    succeeded(call, decision.call);
    expect(decision.call.version).toBe(call.version + 1);
  });

  it.each([...pendingStates, ...terminalStates])(
    "fails with CallCommonError for a member in %s",
    (name) => {
      expectRefused(scenario(name), command, ErrorCode.CallCommonError, timeOf(name));
    },
  );

  it("fails with CallCommonError for a user who is not a member", () => {
    const asOutsider = { ...command, actor: { userID: "frank", deviceID: phone("frank") } };
    expectRefused(scenario("Accepted"), asOutsider as CallCommand, ErrorCode.CallCommonError);
  });

  it("fails with CallCommonError once the call has ended, even for an Accepted member", () => {
    const call = drive(scenario("Accepted"), end(CALLER));
    expect(memberOf(call, "bob").state).toBe(CallUserState.Accepted);
    expectRefused(call, command, ErrorCode.CallCommonError, LATER);
  });
});

describe("the caller, Accepted from the start, may use every advanced operation", () => {
  it.each([
    ["callingInvite", callingInvite(CALLER, [OUTSIDER]), CallState.Started],
    ["callQuit", quit(CALLER), CallState.Started],
    ["callEnd", end(CALLER), CallState.Ended],
  ] as const)("%s", (_, command, callState) => {
    const decision = apply(bobAndCarol(), command, LATER);
    expect(decision).toMatchObject({ ok: true, changed: true, call: { state: callState } });
  });
});

describe("callJoin (SPEC §3: any user not Accepted in the call on this device)", () => {
  it.each([...pendingStates, ...terminalStates.filter((name) => name !== "Cancelled")])(
    "makes a member in %s Accepted on the joining device",
    (name) => {
      const call = scenario(name);
      const decision = apply(call, join("bob", laptop("bob"), "here"), timeOf(name));
      expect(decision).toMatchObject({ ok: true, changed: true });
      if (!decision.ok) return;
      expect(memberOf(decision.call, "bob")).toMatchObject({
        state: CallUserState.Accepted,
        mainDevice: laptop("bob"),
        extendedData: "here",
        acceptTime: timeOf(name),
        deadline: 0,
        quitTime: 0,
      });
    },
  );

  it("makes a user who is not a member Accepted", () => {
    const decision = apply(scenario("Inviting"), join(OUTSIDER), LATER);
    expect(decision).toMatchObject({ ok: true, changed: true });
    if (decision.ok) expect(stateOf(decision.call, OUTSIDER)).toBe(CallUserState.Accepted);
  });

  it.each(acceptedStates)(
    "moves a member in %s to another device without changing its state",
    (name) => {
      const call = scenario(name);
      const decision = apply(call, join("bob", laptop("bob")), LATER);
      expect(decision).toMatchObject({ ok: true, changed: true, deliveries: [] });
      if (!decision.ok) return;
      expect(memberOf(decision.call, "bob")).toEqual({
        ...memberOf(call, "bob"),
        mainDevice: laptop("bob"),
      });
    },
  );

  it.each(acceptedStates)(
    "fails with CallUserAlreadyInTheCall from the main device of a member in %s",
    (name) => {
      expectRefused(scenario(name), join("bob"), ErrorCode.CallUserAlreadyInTheCall);
    },
  );

  it("fails with CallCommonError once the call has ended (Cancelled)", () => {
    const call = scenario("Cancelled");
    expect(call.state).toBe(CallState.Ended);
    expectRefused(call, join("bob"), ErrorCode.CallCommonError);
    expectRefused(call, join(OUTSIDER), ErrorCode.CallCommonError);
  });
});

describe("the advanced-only operations on a general call fail with CallModeMismatch", () => {
  const running = () => drive(startCall({ invitees: ["bob", "carol"] }), accept("bob"));
  const ended = () => drive(startCall({ invitees: ["bob"] }), accept("bob"));
  const commands: [string, CallCommand][] = [
    ["callingInvite by the caller", callingInvite(CALLER, [OUTSIDER])],
    ["callingInvite by an Accepted invitee", callingInvite("bob", [OUTSIDER])],
    ["callJoin by a user who is not a member", join(OUTSIDER)],
    ["callJoin by a pending invitee", join("carol")],
    ["callJoin by an Accepted invitee on another device", join("bob", laptop("bob"))],
    ["callQuit by the caller", quit(CALLER)],
    ["callQuit by an Accepted invitee", quit("bob")],
    ["callQuit by a pending invitee", quit("carol")],
    ["callEnd by the caller", end(CALLER)],
    ["callEnd by an Accepted invitee", end("bob")],
  ];

  it.each(commands)("%s, on a running call", (_, command) => {
    const call = running();
    expect(call.state).toBe(CallState.Started);
    expectRefused(call, command, ErrorCode.CallModeMismatch);
  });

  it.each(commands)("%s, on an ended call", (_, command) => {
    const call = ended();
    expect(call.state).toBe(CallState.Ended);
    expectRefused(call, command, ErrorCode.CallModeMismatch);
  });
});
