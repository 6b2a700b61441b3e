// Pins SPEC §4–§5 for running calls: receipts, timers, the automatic end, caller loss, multi-device.
import { applyCommand, type Call, timersOf } from "@beckon/engine";
import { CallInvitationMode, CallState, CallUserState, ErrorCode } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import {
  accept,
  apply,
  applyChanged,
  CALLER,
  cancel,
  deliveriesOf,
  deviceBack,
  deviceLost,
  drive,
  expectNoOp,
  expectRefused,
  fire,
  Inboxes,
  invite,
  laptop,
  logout,
  OUTSIDER,
  phone,
  receipt,
  reject,
  SECOND,
  settings,
  startCall,
  stateOf,
  T0,
} from "./fixtures.js";

const DEADLINE = T0 + 90 * SECOND;
const CHECK = T0 + settings.notReceivedCheckMs;
const GRACE = settings.callerGraceMs;

const bobAndCarol = () => startCall({ invitees: ["bob", "carol"] });

function stateChange(userID: string, state: CallUserState, extendedData = "") {
  return {
    name: "callUserStateChanged",
    data: { callID: "call-1", callUserList: [{ userID, state, extendedData }] },
  };
}

/** The callUserStateChanged deliveries of a decision, by audience. */
function stateChangeAudiences(decision: Parameters<typeof deliveriesOf>[0]) {
  return deliveriesOf(decision, "callUserStateChanged").map((d) => d.to);
}

describe("receipt", () => {
  it("moves Inviting to Received and tells the caller's main device and every invitee device", () => {
    const call = bobAndCarol();
    const decision = applyChanged(call, receipt("bob", laptop("bob")));
    expect(stateOf(decision.call, "bob")).toBe(CallUserState.Received);
    expect(decision.call.version).toBe(call.version + 1);
    expect(decision.deliveries).toEqual([
      {
        to: { userID: CALLER, device: phone(CALLER) },
        event: stateChange("bob", CallUserState.Received),
      },
      { to: { userID: "bob" }, event: stateChange("bob", CallUserState.Received) },
      { to: { userID: "carol" }, event: stateChange("bob", CallUserState.Received) },
    ]);
  });

  it("is a no-op when repeated, from any device", () => {
    const call = drive(bobAndCarol(), receipt("bob"));
    expectNoOp(call, receipt("bob"));
    expectNoOp(call, receipt("bob", laptop("bob")));
  });

  it("is a no-op from the caller or a member who already answered", () => {
    const call = drive(bobAndCarol(), accept("bob"));
    expectNoOp(call, receipt(CALLER));
    expectNoOp(call, receipt("bob"));
  });

  it("from a non-member is refused as an unknown call would be, so it cannot probe for calls", () => {
    expectRefused(bobAndCarol(), receipt(OUTSIDER), ErrorCode.CallDoesNotExist);
  });
});

describe("not-received check", () => {
  const checked = () => startCall({ invitees: ["bob", "carol"], enableNotReceivedCheck: true });

  it("marks a still-Inviting invitee NotYetReceived at its time and tells the members", () => {
    const decision = applyChanged(checked(), fire("notReceived", "bob"), CHECK);
    expect(stateOf(decision.call, "bob")).toBe(CallUserState.NotYetReceived);
    expect(stateChangeAudiences(decision)).toEqual([
      { userID: CALLER, device: phone(CALLER) },
      { userID: "bob" },
      { userID: "carol" },
    ]);
    expect(timersOf(decision.call, settings).filter((t) => t.userID === "bob")).toEqual([
      { kind: "deadline", userID: "bob", at: DEADLINE },
    ]);
  });

  it("lets a later receipt move NotYetReceived to Received", () => {
    const call = drive(checked(), [fire("notReceived", "bob"), CHECK]);
    const decision = applyChanged(call, receipt("bob"), CHECK + SECOND);
    expect(stateOf(decision.call, "bob")).toBe(CallUserState.Received);
  });

  it("is a no-op before its time", () => {
    expectNoOp(checked(), fire("notReceived", "bob"), CHECK - 1);
  });

  it("is a no-op once the invitation was received, and is no longer derived", () => {
    const call = drive(checked(), receipt("bob"));
    expect(timersOf(call, settings)).not.toContainEqual(
      expect.objectContaining({ kind: "notReceived", userID: "bob" }),
    );
    expectNoOp(call, fire("notReceived", "bob"), CHECK);
  });

  it("is a no-op on a call created without enableNotReceivedCheck", () => {
    expectNoOp(bobAndCarol(), fire("notReceived", "bob"), CHECK);
  });
});

describe("deadline", () => {
  it("is a no-op before its time", () => {
    expectNoOp(bobAndCarol(), fire("deadline", "bob"), DEADLINE - 1);
  });

  it("times the invitee out: callInvitationTimeout and its own Timeout to it, a state change to the active members", () => {
    const call = drive(bobAndCarol(), accept("carol", laptop("carol")));
    const decision = applyChanged(call, fire("deadline", "bob"), DEADLINE);
    expect(stateOf(decision.call, "bob")).toBe(CallUserState.Timeout);
    expect(decision.deliveries).toEqual([
      {
        to: { userID: "bob" },
        event: {
          name: "callInvitationTimeout",
          data: { callID: "call-1", mode: CallInvitationMode.General },
        },
      },
      {
        to: { userID: CALLER, device: phone(CALLER) },
        event: stateChange("bob", CallUserState.Timeout),
      },
      {
        to: { userID: "carol", device: laptop("carol") },
        event: stateChange("bob", CallUserState.Timeout),
      },
      // SPEC §4: the invitee's own devices are told their own terminal state.
      { to: { userID: "bob" }, event: stateChange("bob", CallUserState.Timeout) },
    ]);
  });

  it("fires late just as well, and only once", () => {
    const decision = applyChanged(bobAndCarol(), fire("deadline", "bob"), DEADLINE + 60 * SECOND);
    expectNoOp(decision.call, fire("deadline", "bob"), DEADLINE + 61 * SECOND);
  });

  it("is a no-op for the caller, a non-member, or an invitee who answered", () => {
    const call = drive(bobAndCarol(), reject("bob"));
    for (const userID of [CALLER, OUTSIDER, "bob"])
      expectNoOp(call, fire("deadline", userID), DEADLINE);
  });
});

describe("a general call ends by itself once nobody is pending", () => {
  // Answers must come before the deadline (SPEC §5: at the deadline the invitee is Timeout).
  it.each([
    ["an accept", accept("bob"), DEADLINE - 1],
    ["a reject", reject("bob"), DEADLINE - 1],
    ["a timeout", fire("deadline", "bob"), DEADLINE],
  ])("after %s in a 1:1 call, with no callInvitationEnded event", (_, last, at) => {
    const decision = applyChanged(startCall(), last, at);
    expect(decision.call).toMatchObject({ state: CallState.Ended, endTime: at });
    expect(deliveriesOf(decision, "callInvitationEnded")).toEqual([]);
    expect(timersOf(decision.call, settings)).toEqual([]);
  });

  it("stays Started while one invitee is still pending, then ends with the last answer", () => {
    const afterBob = drive(bobAndCarol(), accept("bob"));
    expect(afterBob).toMatchObject({ state: CallState.Started, endTime: 0 });
    const decision = applyChanged(
      afterBob,
      reject("carol", phone("carol"), "busy"),
      T0 + 7 * SECOND,
    );
    expect(decision.call).toMatchObject({ state: CallState.Ended, endTime: T0 + 7 * SECOND });
    expect(deliveriesOf(decision, "callInvitationEnded")).toEqual([]);
    // The members still in the call are told of the last answer, with its extendedData.
    expect(deliveriesOf(decision, "callUserStateChanged")).toContainEqual({
      to: { userID: "bob", device: phone("bob") },
      event: stateChange("carol", CallUserState.Rejected, "busy"),
    });
  });
});

describe("callCancel in a general call", () => {
  it("cancels every pending invitee, listed or not, and ends the call", () => {
    const call = drive(bobAndCarol(), reject("bob"));
    const decision = applyChanged(call, cancel(CALLER, ["bob", "ghost"], phone(CALLER), "bye"));
    expect(decision.reply).toEqual({ callID: "call-1", errorInvitees: ["bob", "ghost"] });
    expect(stateOf(decision.call, "carol")).toBe(CallUserState.Cancelled);
    expect(decision.call.state).toBe(CallState.Ended);
    const cancelled = {
      name: "callInvitationCancelled",
      data: {
        callID: "call-1",
        mode: CallInvitationMode.General,
        inviter: CALLER,
        extendedData: "bye",
      },
    };
    expect(decision.deliveries).toEqual([
      { to: { userID: "carol" }, event: cancelled },
      { to: { userID: CALLER, exceptDevice: phone(CALLER) }, event: cancelled },
      {
        to: { userID: CALLER, device: phone(CALLER) },
        event: stateChange("carol", CallUserState.Cancelled),
      },
      // SPEC §4: the cancelled invitee's devices are told their own new state too.
      { to: { userID: "carol" }, event: stateChange("carol", CallUserState.Cancelled) },
    ]);
  });

  it("from the caller's other device tells the main device both ways", () => {
    const decision = applyChanged(startCall(), cancel(CALLER, [], laptop(CALLER)));
    expect(
      decision.deliveries.filter((d) => d.to.userID === CALLER).map((d) => [d.to, d.event.name]),
    ).toEqual([
      [{ userID: CALLER, exceptDevice: laptop(CALLER) }, "callInvitationCancelled"],
      [{ userID: CALLER, device: phone(CALLER) }, "callUserStateChanged"],
    ]);
  });
});

describe("caller lost", () => {
  const lost = () => drive(bobAndCarol(), [deviceLost(CALLER), T0 + SECOND]);

  it("arms callerLostAt = now + grace when the caller's main device drops, silently", () => {
    const decision = applyChanged(bobAndCarol(), deviceLost(CALLER), T0 + SECOND);
    expect(decision.call.callerLostAt).toBe(T0 + SECOND + GRACE);
    expect(decision.deliveries).toEqual([]);
    expect(timersOf(decision.call, settings)).toContainEqual({
      kind: "callerLost",
      userID: CALLER,
      at: T0 + SECOND + GRACE,
    });
  });

  it("ignores the caller's other devices and other users' devices", () => {
    const call = bobAndCarol();
    expectNoOp(call, deviceLost(CALLER, laptop(CALLER)));
    expectNoOp(call, logout(CALLER, laptop(CALLER)));
    expectNoOp(call, deviceLost("bob"));
    expectNoOp(call, logout("bob"));
  });

  it("does not re-arm while already armed", () => {
    expectNoOp(lost(), deviceLost(CALLER), T0 + 2 * SECOND);
  });

  it("is disarmed when the device comes back, so the old timer does nothing", () => {
    const back = applyChanged(lost(), deviceBack(CALLER), T0 + 5 * SECOND).call;
    expect(back.callerLostAt).toBe(0);
    expect(timersOf(back, settings).map((t) => t.kind)).not.toContain("callerLost");
    expectNoOp(back, fire("callerLost", CALLER), T0 + SECOND + GRACE);
    expectNoOp(back, deviceBack(CALLER), T0 + 6 * SECOND);
  });

  it("is a no-op before the grace period is over", () => {
    expectNoOp(lost(), fire("callerLost", CALLER), T0 + SECOND + GRACE - 1);
  });

  it("cancels every pending invitee when the grace period is over, telling all caller devices", () => {
    const call = drive(lost(), reject("carol"));
    const decision = applyChanged(call, fire("callerLost", CALLER), T0 + SECOND + GRACE);
    expect(stateOf(decision.call, "bob")).toBe(CallUserState.Cancelled);
    expect(stateOf(decision.call, "carol")).toBe(CallUserState.Rejected);
    expect(decision.call).toMatchObject({ state: CallState.Ended, callerLostAt: 0 });
    expect(deliveriesOf(decision, "callInvitationCancelled").map((d) => d.to)).toEqual([
      { userID: "bob" },
      { userID: CALLER },
    ]);
    expect(timersOf(decision.call, settings)).toEqual([]);
  });

  it("cancels at once when the caller logs out of its main device", () => {
    const decision = applyChanged(bobAndCarol(), logout(CALLER), T0 + SECOND);
    expect(decision.call.state).toBe(CallState.Ended);
    expect(decision.call.members.slice(1).map((m) => m.state)).toEqual([
      CallUserState.Cancelled,
      CallUserState.Cancelled,
    ]);
    expect(deliveriesOf(decision, "callInvitationCancelled").map((d) => d.to)).toEqual([
      { userID: "bob" },
      { userID: "carol" },
      { userID: CALLER, exceptDevice: phone(CALLER) },
    ]);
  });

  describe("does nothing once an invitee has accepted", () => {
    it("accept disarms an armed timer", () => {
      const call = drive(lost(), accept("bob"));
      expect(call.callerLostAt).toBe(0);
      expectNoOp(call, fire("callerLost", CALLER), T0 + SECOND + GRACE);
    });

    it("a later drop or logout is ignored", () => {
      const call = drive(bobAndCarol(), accept("bob"));
      expectNoOp(call, deviceLost(CALLER), T0 + SECOND);
      expectNoOp(call, logout(CALLER), T0 + SECOND);
    });
  });

  it("a reject does not disarm it: nobody has accepted yet", () => {
    expect(drive(lost(), reject("bob")).callerLostAt).toBe(T0 + SECOND + GRACE);
  });
});

describe("multi-device", () => {
  /** Bob and carol invited, every delivery so far in the inboxes. */
  function ringing(): { call: Call; inboxes: Inboxes } {
    const inboxes = new Inboxes();
    const created = startCall({ invitees: ["bob", "carol"] });
    const decision = applyChanged(created, receipt("bob", laptop("bob")));
    inboxes.deliver(decision.deliveries);
    return { call: decision.call, inboxes };
  }

  it("rings every device of an invitee before anybody answers", () => {
    const decision = apply(startCall({ invitees: ["bob", "carol"] }), receipt("carol"));
    if (!decision.ok) throw new Error("receipt failed");
    const toBob = decision.deliveries.filter((d) => d.to.userID === "bob");
    expect(toBob.map((d) => d.to)).toEqual([{ userID: "bob" }]);
    const inboxes = new Inboxes();
    inboxes.deliver(decision.deliveries);
    expect(inboxes.of(phone("bob"))).toEqual(inboxes.of(laptop("bob")));
    expect(inboxes.of(phone("bob"))).toHaveLength(1);
  });

  it("accept: the device becomes main, the others get exactly one last state change", () => {
    const { call, inboxes } = ringing();
    const accepted = applyChanged(call, accept("bob", laptop("bob"), "on my way"));
    expect(accepted.call.members.find((m) => m.userID === "bob")?.mainDevice).toBe(laptop("bob"));
    const toBob = accepted.deliveries.filter((d) => d.to.userID === "bob");
    expect(toBob).toEqual([
      {
        to: { userID: "bob", device: laptop("bob") },
        event: stateChange("bob", CallUserState.Accepted, "on my way"),
      },
      {
        to: { userID: "bob", exceptDevice: laptop("bob") },
        event: stateChange("bob", CallUserState.Accepted, "on my way"),
      },
    ]);
    inboxes.deliver(accepted.deliveries);
    const phoneBefore = inboxes.of(phone("bob")).length;

    // Everything after the accept reaches the main device only.
    const later = applyChanged(accepted.call, receipt("carol"));
    const ended = applyChanged(later.call, fire("deadline", "carol"), DEADLINE);
    inboxes.deliver(later.deliveries);
    inboxes.deliver(ended.deliveries);
    expect(later.deliveries.filter((d) => d.to.userID === "bob").map((d) => d.to)).toEqual([
      { userID: "bob", device: laptop("bob") },
    ]);
    expect(ended.deliveries.filter((d) => d.to.userID === "bob").map((d) => d.to)).toEqual([
      { userID: "bob", device: laptop("bob") },
    ]);
    expect(inboxes.of(phone("bob"))).toHaveLength(phoneBefore);
    expect(inboxes.of(phone("bob")).at(-1)).toEqual(
      stateChange("bob", CallUserState.Accepted, "on my way"),
    );
    expect(inboxes.of(laptop("bob")).map((e) => e.name)).toEqual([
      "callUserStateChanged", // bob's own receipt
      "callUserStateChanged", // bob's own accept
      "callUserStateChanged", // carol's receipt
      "callUserStateChanged", // carol's timeout
    ]);
  });

  it("reject: every device of the rejecting user gets one last state change, then nothing", () => {
    const { call, inboxes } = ringing();
    const rejected = applyChanged(call, reject("bob", phone("bob"), "in a meeting"));
    expect(rejected.call.members.find((m) => m.userID === "bob")?.mainDevice).toBe(phone("bob"));
    expect(rejected.deliveries.filter((d) => d.to.userID === "bob")).toEqual([
      {
        to: { userID: "bob", exceptDevice: phone("bob") },
        event: stateChange("bob", CallUserState.Rejected, "in a meeting"),
      },
      // SPEC §4: the rejecting device is told its own terminal state too, as ZIM's SDK does.
      {
        to: { userID: "bob", device: phone("bob") },
        event: stateChange("bob", CallUserState.Rejected, "in a meeting"),
      },
    ]);
    inboxes.deliver(rejected.deliveries);

    const afterReceipt = applyChanged(rejected.call, receipt("carol"));
    const afterAccept = applyChanged(afterReceipt.call, accept("carol"));
    expect(afterAccept.call.state).toBe(CallState.Ended);
    for (const decision of [afterReceipt, afterAccept]) {
      expect(decision.deliveries.filter((d) => d.to.userID === "bob")).toEqual([]);
      inboxes.deliver(decision.deliveries);
    }
    const received = stateChange("bob", CallUserState.Received);
    const ownRejection = stateChange("bob", CallUserState.Rejected, "in a meeting");
    expect(inboxes.of(phone("bob"))).toEqual([received, ownRejection]);
    expect(inboxes.of(laptop("bob"))).toEqual([received, ownRejection]);
  });

  it("the caller's other devices hear of the call only through created and cancelled", () => {
    const inboxes = new Inboxes();
    const created = invite({ invitees: ["bob"] });
    if (!created.ok) throw new Error("invite failed");
    const received = applyChanged(created.call, receipt("bob"));
    const cancelled = applyChanged(received.call, cancel());
    for (const decision of [created, received, cancelled]) inboxes.deliver(decision.deliveries);
    expect(inboxes.of(laptop(CALLER)).map((e) => e.name)).toEqual([
      "callInvitationCreated",
      "callInvitationCancelled",
    ]);
    expect(inboxes.of(phone(CALLER)).map((e) => e.name)).toEqual([
      "callInvitationCreated",
      "callUserStateChanged",
      "callUserStateChanged",
    ]);
  });
});

describe("advanced mode, as far as the engine has it", () => {
  const advanced = () =>
    startCall({ invitees: ["bob", "carol"], mode: CallInvitationMode.Advanced });

  it("stays Started after every invitee answered or timed out: the caller is still active", () => {
    const call = drive(advanced(), reject("bob"), [fire("deadline", "carol"), DEADLINE]);
    expect(call).toMatchObject({ state: CallState.Started, endTime: 0 });
    expect(stateOf(call, CALLER)).toBe(CallUserState.Accepted);
    expect(timersOf(call, settings)).toEqual([]);
  });

  it("stays Started after an accept, whoever else is left", () => {
    const call = drive(advanced(), accept("bob"), reject("carol"));
    expect(call.state).toBe(CallState.Started);
  });

  it("carries mode 1 in its events", () => {
    const decision = applyChanged(advanced(), fire("deadline", "bob"), DEADLINE);
    expect(deliveriesOf(decision, "callInvitationTimeout")[0]?.event.data).toEqual({
      callID: "call-1",
      mode: CallInvitationMode.Advanced,
    });
  });

  // SPEC §3: a cancel with an empty list cancels every pending invitee and "the call is over";
  // §5: advanced calls cancel "as in general mode", and a lost caller cancels "as if by callCancel".
  // The engine sends no callInvitationEnded here: the invitees got callInvitationCancelled, and
  // the caller cancelled (or logged out) itself, as in general mode.
  it.each([
    ["callCancel with an empty list", cancel()],
    ["a logout of the caller's main device", logout(CALLER)],
  ])("%s ends the call", (_, command) => {
    const decision = applyChanged(advanced(), command, T0 + SECOND);
    expect(decision.call).toMatchObject({ state: CallState.Ended, endTime: T0 + SECOND });
    expect(stateOf(decision.call, CALLER)).toBe(CallUserState.Accepted);
    expect(deliveriesOf(decision, "callInvitationEnded")).toEqual([]);
    expect(timersOf(decision.call, settings)).toEqual([]);
    expectRefused(decision.call, cancel(), ErrorCode.CallCancelError);
  });

  it("the caller-lost timer ends the call and fires only once", () => {
    const call = drive(advanced(), [deviceLost(CALLER), T0 + SECOND]);
    const decision = applyChanged(call, fire("callerLost", CALLER), T0 + SECOND + GRACE);
    expect(decision.call.state).toBe(CallState.Ended);
    expect(timersOf(decision.call, settings)).toEqual([]);
    expectNoOp(decision.call, fire("callerLost", CALLER), T0 + SECOND + GRACE);
  });
});

describe("the deadline wins over a late answer", () => {
  it.each([
    ["accept", accept("bob")],
    ["reject", reject("bob")],
  ])("%s at the deadline, before its timer ran, is refused and changes nothing", (_, late) => {
    const call = startCall();
    const decision = applyCommand(call, late, DEADLINE, settings);
    expect(decision).toMatchObject({ ok: false, error: { code: ErrorCode.CallCommonError } });
    const timedOut = applyChanged(call, fire("deadline", "bob"), DEADLINE);
    expect(timedOut.call.members.find((m) => m.userID === "bob")?.state).toBe(
      CallUserState.Timeout,
    );
  });
});
