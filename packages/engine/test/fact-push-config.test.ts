// A command's pushConfig rides on the facts it causes, so offline push can reach the devices it
// rang with the cancel, quit or end (SPEC §5 "Offline").
import type { PushConfig } from "@beckon/protocol";
import { expect, it } from "vitest";
import { accept, applyChanged, by, CALLER, startAdvancedCall, startCall } from "./fixtures.js";

const STOP: PushConfig = { title: "Missed call", content: "from alice", payload: "p" };

it("a cancel's pushConfig is on each cancelled member and on the end it causes", () => {
  const call = startCall({ invitees: ["bob", "carol"] });
  const decision = applyChanged(call, {
    type: "cancel",
    actor: by(CALLER),
    invitees: [],
    pushConfig: STOP,
  });
  expect(
    decision.facts.map((fact) => [fact.kind, "pushConfig" in fact && fact.pushConfig]),
  ).toEqual([
    ["member.cancelled", STOP],
    ["member.cancelled", STOP],
    ["call.ended", STOP],
  ]);
});

it("quit and end carry theirs; commands without one leave the facts without", () => {
  const call = startAdvancedCall({ invitees: ["bob"] });
  const accepted = applyChanged(call, accept("bob"));
  expect(accepted.facts.every((fact) => !("pushConfig" in fact))).toBe(true);
  const ended = applyChanged(accepted.call, { type: "end", actor: by("bob"), pushConfig: STOP });
  expect(ended.facts).toEqual([expect.objectContaining({ kind: "call.ended", pushConfig: STOP })]);
  const quit = applyChanged(accepted.call, { type: "quit", actor: by("bob"), pushConfig: STOP });
  expect(quit.facts[0]).toMatchObject({ kind: "member.quit", userID: "bob", pushConfig: STOP });
});
