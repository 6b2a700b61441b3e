// Pins the leave rule the server API applies for a removed user: for every place a member can be
// in, the one command that takes them out — and that the engine then accepts it.
import { type Call, leaveCommand } from "@beckon/engine";
import { CallState, CallUserState } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import {
  accept,
  apply,
  by,
  CALLER,
  drive,
  end,
  OUTSIDER,
  quit,
  receipt,
  reject,
  startAdvancedCall,
  startCall,
  stateOf,
} from "./fixtures.js";

const WHY = "user removed";
const bobAndCarol = () => startCall({ invitees: ["bob", "carol"] });
const advanced = () => startAdvancedCall({ invitees: ["bob", "carol"] });

interface Row {
  name: string;
  call: () => Call;
  userID: string;
  command: "cancel" | "reject" | "quit" | null;
  /** The user's state once the command is applied; a cancel leaves the caller's as it was. */
  after?: CallUserState;
  /** What the invitees are once a cancel is applied. */
  invitees?: CallUserState;
}

const rows: Row[] = [
  {
    name: "a caller nobody answered cancels",
    call: bobAndCarol,
    userID: CALLER,
    command: "cancel",
    invitees: CallUserState.Cancelled,
  },
  {
    name: "a caller whose invitees only received still cancels",
    call: () => drive(bobAndCarol(), receipt("bob")),
    userID: CALLER,
    command: "cancel",
    invitees: CallUserState.Cancelled,
  },
  {
    name: "an inviting invitee rejects",
    call: bobAndCarol,
    userID: "bob",
    command: "reject",
    after: CallUserState.Rejected,
  },
  {
    name: "a received invitee rejects",
    call: () => drive(bobAndCarol(), receipt("bob")),
    userID: "bob",
    command: "reject",
    after: CallUserState.Rejected,
  },
  {
    name: "an accepted member of an advanced call quits",
    call: () => drive(advanced(), accept("bob")),
    userID: "bob",
    command: "quit",
    after: CallUserState.Quit,
  },
  {
    name: "the caller of an advanced call someone accepted quits",
    call: () => drive(advanced(), accept("bob")),
    userID: CALLER,
    command: "quit",
    after: CallUserState.Quit,
  },
  {
    name: "a pending invitee of an advanced call rejects",
    call: () => drive(advanced(), accept("bob")),
    userID: "carol",
    command: "reject",
    after: CallUserState.Rejected,
  },
  {
    name: "an accepted member of a basic call has no way out but the end",
    call: () => drive(bobAndCarol(), accept("bob")),
    userID: "bob",
    command: null,
  },
  {
    name: "a member who already rejected has nothing to leave",
    call: () => drive(bobAndCarol(), reject("bob")),
    userID: "bob",
    command: null,
  },
  {
    name: "a member who quit an advanced call has nothing to leave",
    call: () => drive(advanced(), accept("bob"), accept("carol"), quit("bob")),
    userID: "bob",
    command: null,
  },
  {
    name: "a user outside the call has nothing to leave",
    call: bobAndCarol,
    userID: OUTSIDER,
    command: null,
  },
  {
    name: "nobody leaves an ended call",
    call: () => drive(advanced(), accept("bob"), end("bob")),
    userID: CALLER,
    command: null,
  },
];

describe("leaveCommand", () => {
  it.each(rows)("$name", ({ call: build, userID, command, after, invitees }) => {
    const call = build();
    const leave = leaveCommand(call, by(userID), WHY);
    expect(leave?.type ?? null).toBe(command);
    if (!leave) return;
    expect(leave).toMatchObject({ actor: by(userID), extendedData: WHY });
    const decision = apply(call, leave);
    expect(decision.ok && decision.changed).toBe(true);
    if (!decision.ok) return;
    if (after !== undefined) expect(stateOf(decision.call, userID)).toBe(after);
    if (invitees !== undefined) {
      expect(["bob", "carol"].map((invitee) => stateOf(decision.call, invitee))).toEqual([
        invitees,
        invitees,
      ]);
    }
  });

  it("ends a call whose caller leaves before anyone answered", () => {
    const call = bobAndCarol();
    const leave = leaveCommand(call, by(CALLER));
    const decision = leave && apply(call, leave);
    expect(decision?.ok && decision.call.state).toBe(CallState.Ended);
  });
});
