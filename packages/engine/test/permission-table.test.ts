// Pins SPEC §6 for general calls: who may accept, reject and cancel, from every reachable state.
import type { Call, CallCommand } from "@beckon/engine";
import { CallState, CallUserState, ErrorCode } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import {
  accept,
  apply,
  CALLER,
  cancel,
  drive,
  expectRefused,
  fire,
  laptop,
  OUTSIDER,
  receipt,
  reject,
  SECOND,
  startCall,
  stateOf,
  T0,
} from "./fixtures.js";

const DEADLINE = T0 + 90 * SECOND;

/**
 * Bob in each state a general call can give him, reached through real commands. Carol is
 * invited too and left pending, so the call is still running wherever the rules allow it.
 * BeCancelled and Quit are advanced-mode states and cannot be reached here.
 */
const bobIn: Record<string, { state: CallUserState; build: () => Call }> = {
  Inviting: {
    state: CallUserState.Inviting,
    build: () => startCall({ invitees: ["bob", "carol"] }),
  },
  NotYetReceived: {
    state: CallUserState.NotYetReceived,
    build: () =>
      drive(startCall({ invitees: ["bob", "carol"], enableNotReceivedCheck: true }), [
        fire("notReceived", "bob"),
        T0 + 5 * SECOND,
      ]),
  },
  Received: {
    state: CallUserState.Received,
    build: () => drive(startCall({ invitees: ["bob", "carol"] }), receipt("bob")),
  },
  Accepted: {
    state: CallUserState.Accepted,
    build: () => drive(startCall({ invitees: ["bob", "carol"] }), accept("bob")),
  },
  Rejected: {
    state: CallUserState.Rejected,
    build: () => drive(startCall({ invitees: ["bob", "carol"] }), reject("bob")),
  },
  Cancelled: {
    state: CallUserState.Cancelled,
    build: () => drive(startCall({ invitees: ["bob", "carol"] }), cancel()),
  },
  Timeout: {
    state: CallUserState.Timeout,
    // Only bob's deadline timer fires, so carol is still pending and the call still running.
    build: () =>
      drive(startCall({ invitees: ["bob", "carol"] }), [fire("deadline", "bob"), DEADLINE]),
  },
};

const pendingStates = ["Inviting", "NotYetReceived", "Received"] as const;
const answeredStates = ["Accepted", "Rejected", "Cancelled", "Timeout"] as const;

const answers = [
  { op: "callAccept", command: accept, outcome: CallUserState.Accepted },
  { op: "callReject", command: reject, outcome: CallUserState.Rejected },
] as const;

function scenario(name: keyof typeof bobIn): Call {
  const { state, build } = bobIn[name] as (typeof bobIn)[string];
  const call = build();
  // Guards the table itself: a row is only meaningful if bob really is in that state.
  expect(stateOf(call, "bob")).toBe(state);
  return call;
}

describe.each(answers.map((answer) => [answer.op, answer] as const))("%s", (_, answer) => {
  const { command, outcome } = answer;
  it.each(pendingStates)("is allowed for an invitee in %s", (name) => {
    const call = scenario(name);
    const decision = apply(call, command("bob", laptop("bob"), "hello"));
    expect(decision).toMatchObject({ ok: true, changed: true, reply: { callID: call.callID } });
    if (!decision.ok) return;
    expect(stateOf(decision.call, "bob")).toBe(outcome);
    expect(decision.call.members.find((m) => m.userID === "bob")).toMatchObject({
      extendedData: "hello",
      mainDevice: laptop("bob"),
    });
    expect(decision.call.version).toBe(call.version + 1);
  });

  it.each(answeredStates)("fails with CallCommonError for an invitee in %s", (name) => {
    expectRefused(scenario(name), command("bob"), ErrorCode.CallCommonError);
  });

  it("fails with CallCommonError for the caller, who is Accepted from the start", () => {
    expectRefused(scenario("Inviting"), command(CALLER), ErrorCode.CallCommonError);
  });

  it.each([
    ["a running call", "Inviting"],
    ["an ended call", "Cancelled"],
  ] as const)("fails with CallIsNotInvitee for a non-member of %s", (_, name) => {
    expectRefused(scenario(name), command(OUTSIDER), ErrorCode.CallIsNotInvitee);
  });
});

describe("callCancel", () => {
  it.each(["bob", "carol", OUTSIDER])("fails with CallIsNotInviter when %s cancels", (userID) => {
    expectRefused(scenario("Inviting"), cancel(userID), ErrorCode.CallIsNotInviter);
  });

  it("fails with CallIsNotInviter even when the invitee names only itself", () => {
    expectRefused(scenario("Received"), cancel("bob", ["bob"]), ErrorCode.CallIsNotInviter);
  });

  it("fails with CallCancelError once an invitee has accepted", () => {
    const call = scenario("Accepted");
    expect(call.state).toBe(CallState.Started);
    expectRefused(call, cancel(), ErrorCode.CallCancelError);
    expectRefused(call, cancel(CALLER, ["carol"]), ErrorCode.CallCancelError);
  });

  const endedCalls: [string, () => Call][] = [
    ["that was cancelled", () => scenario("Cancelled")],
    ["that everyone rejected", () => drive(scenario("Rejected"), reject("carol"))],
    ["that everyone accepted", () => drive(startCall({ invitees: ["bob"] }), accept("bob"))],
    ["that timed out", () => drive(scenario("Timeout"), [fire("deadline", "carol"), DEADLINE])],
  ];

  it.each(endedCalls)("fails with CallCancelError on a call %s", (_, build) => {
    const call = build();
    expect(call.state).toBe(CallState.Ended);
    expectRefused(call, cancel(), ErrorCode.CallCancelError);
  });

  it.each([...pendingStates, "Rejected", "Timeout"] as const)(
    "is allowed while nobody has accepted (bob %s), from any of the caller's devices",
    (name) => {
      const call = scenario(name);
      const decision = apply(call, cancel(CALLER, [], laptop(CALLER)));
      expect(decision).toMatchObject({ ok: true, changed: true });
      if (!decision.ok) return;
      expect(decision.call.state).toBe(CallState.Ended);
      expect(stateOf(decision.call, "carol")).toBe(CallUserState.Cancelled);
    },
  );
});

describe("oversized extendedData is bad input, refused before any state rule", () => {
  const tooLong = "x".repeat(2049);
  const commands: [string, CallCommand][] = [
    ["callAccept", accept("bob", undefined, tooLong)],
    ["callReject", reject("bob", undefined, tooLong)],
    ["callCancel", cancel(CALLER, [], undefined, tooLong)],
  ];

  it.each(commands)("%s fails with ParamsInvalid", (_, command) => {
    expectRefused(scenario("Received"), command, ErrorCode.ParamsInvalid);
  });
});
