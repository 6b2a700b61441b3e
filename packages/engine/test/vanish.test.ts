// SPEC §5 "Members who vanish": an Accepted member with no device for the grace period is quit.

import { timersOf, VANISHED_EXTENDED_DATA } from "@beckon/engine";
import { CallState, CallUserState } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import {
  accept,
  apply,
  applyChanged,
  expectNoOp,
  fire,
  memberOf,
  SECOND,
  settings,
  startAdvancedCall,
  startCall,
  T0,
} from "./fixtures.js";

const away = (userID: string) => ({ type: "memberAway" as const, userID });
const back = (userID: string) => ({ type: "memberBack" as const, userID });
const grace = settings.memberGraceMs;

describe("members who vanish", () => {
  it("an away Accepted member gets a stored deadline, and is quit when it passes", () => {
    const call = applyChanged(
      startAdvancedCall({ invitees: ["bob", "carol"] }),
      accept("bob"),
    ).call;
    const gone = applyChanged(call, away("bob"), T0 + SECOND).call;
    expect(memberOf(gone, "bob").awayAt).toBe(T0 + SECOND);
    expect(timersOf(gone, settings)).toContainEqual({
      kind: "vanished",
      userID: "bob",
      at: T0 + SECOND + grace,
    });
    // Early fires change nothing.
    expectNoOp(gone, fire("vanished", "bob"), T0 + SECOND + grace - 1);
    const quit = applyChanged(gone, fire("vanished", "bob"), T0 + SECOND + grace);
    expect(memberOf(quit.call, "bob")).toMatchObject({
      state: CallUserState.Quit,
      extendedData: VANISHED_EXTENDED_DATA,
      quitTime: T0 + SECOND + grace,
    });
    // The others are told, and so are bob's own devices.
    const told = quit.deliveries.map((d) => d.to.userID);
    expect(told).toEqual(expect.arrayContaining(["alice", "carol", "bob"]));
    expect(quit.facts.map((f) => f.kind)).toEqual(["member.quit"]);
    expect(quit.call.state).toBe(CallState.Started);
  });

  it("a member that comes back keeps its place", () => {
    const call = applyChanged(startAdvancedCall(), accept("bob")).call;
    const gone = applyChanged(call, away("bob"), T0 + SECOND).call;
    const returned = applyChanged(gone, back("bob"), T0 + 2 * SECOND).call;
    expect(memberOf(returned, "bob").awayAt).toBeUndefined();
    expect(timersOf(returned, settings).some((t) => t.kind === "vanished")).toBe(false);
    expectNoOp(returned, fire("vanished", "bob"), T0 + grace * 2);
  });

  it("when the last active members vanish, the call ends by itself", () => {
    let call = applyChanged(startAdvancedCall(), accept("bob")).call;
    call = applyChanged(call, away("alice"), T0).call;
    call = applyChanged(call, away("bob"), T0).call;
    call = applyChanged(call, fire("vanished", "alice"), T0 + grace).call;
    expect(call.state).toBe(CallState.Started);
    call = applyChanged(call, fire("vanished", "bob"), T0 + grace).call;
    expect(call.state).toBe(CallState.Ended);
  });

  it("only Accepted members of a Started call can be away", () => {
    const ringing = startCall({ invitees: ["bob", "carol"] });
    expectNoOp(ringing, away("bob"));
    expect(apply(ringing, away("alice"))).toMatchObject({ ok: true, changed: true });
    expectNoOp(ringing, back("alice"));
  });
});
