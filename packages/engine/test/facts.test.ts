// Facts: what each decision means for the outside world, derived from the call before and after.
import { CallUserState } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import {
  accept,
  apply,
  applyChanged,
  by,
  CALLER,
  callingInvite,
  cancel,
  end,
  fire,
  invite,
  join,
  quit,
  receipt,
  reject,
  SECOND,
  startAdvancedCall,
  startCall,
  T0,
} from "./fixtures.js";

const kinds = (facts: ReadonlyArray<{ kind: string; userID?: string }>) =>
  facts.map((fact) => (fact.userID ? `${fact.kind} ${fact.userID}` : fact.kind));

describe("facts", () => {
  it("a new call: created by the caller's device, then each invitee invited", () => {
    const decision = invite({ invitees: ["bob", "carol"] });
    if (!decision.ok) throw decision.error;
    expect(kinds(decision.facts)).toEqual([
      "call.created",
      "member.invited bob",
      "member.invited carol",
    ]);
    expect(decision.facts[0]).toMatchObject({ by: by(CALLER), at: T0, caller: CALLER });
    expect(decision.facts[1]).toMatchObject({ inviter: CALLER });
  });

  it("receipt, accept with its extendedData, and the general call's end", () => {
    const call = startCall();
    const received = applyChanged(call, receipt("bob"));
    expect(kinds(received.facts)).toEqual(["member.received bob"]);
    const accepted = applyChanged(received.call, accept("bob", undefined, "hi"));
    expect(kinds(accepted.facts)).toEqual(["member.accepted bob", "call.ended"]);
    expect(accepted.facts[0]).toMatchObject({
      by: by("bob"),
      extendedData: "hi",
      state: CallUserState.Accepted,
    });
  });

  it("a timeout has no actor; a reject and a cancel name theirs", () => {
    const call = startCall({ invitees: ["bob", "carol", "dave"] });
    const timedOut = applyChanged(call, fire("deadline", "bob"), T0 + 91 * SECOND);
    expect(kinds(timedOut.facts)).toEqual(["member.timedOut bob"]);
    expect(timedOut.facts[0]).not.toHaveProperty("by");
    const rejected = applyChanged(timedOut.call, reject("carol"), T0 + SECOND);
    expect(kinds(rejected.facts)).toEqual(["member.rejected carol"]);
    const cancelled = applyChanged(rejected.call, cancel(), T0 + 2 * SECOND);
    expect(kinds(cancelled.facts)).toEqual(["member.cancelled dave", "call.ended"]);
    expect(cancelled.facts[1]).toMatchObject({ by: by(CALLER) });
  });

  it("advanced calls: re-invited, joined, quit and ended", () => {
    const call = startAdvancedCall({ invitees: ["bob", "carol"] });
    const accepted = applyChanged(call, accept("bob"));
    const quitting = applyChanged(accepted.call, quit("bob"));
    expect(kinds(quitting.facts)).toEqual(["member.quit bob"]);
    const rejoined = applyChanged(quitting.call, join("bob"));
    expect(kinds(rejoined.facts)).toEqual(["member.joined bob"]);
    const more = applyChanged(rejoined.call, callingInvite("bob", ["dave"]));
    expect(kinds(more.facts)).toEqual(["member.invited dave"]);
    const ended = applyChanged(more.call, end("bob"));
    expect(kinds(ended.facts).at(-1)).toBe("call.ended");
    expect(ended.facts.at(-1)).toMatchObject({ by: by("bob") });
  });

  it("a decision that changes nothing has no facts", () => {
    const received = applyChanged(startCall(), receipt("bob"));
    const again = apply(received.call, receipt("bob"));
    expect(again).toMatchObject({ ok: true, changed: false, facts: [] });
  });
});
