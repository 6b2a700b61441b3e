// Pins when the ZIM façade derives ZIM's deprecated general-mode events from state changes: once
// per transition, never for advanced calls, never about the device's own user, and the
// unanswered-invitees event only on the caller's side.
import { CallInvitationMode, CallUserState } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import { LegacyCallEvents } from "../src/zim-legacy-events.js";

const created = (mode = CallInvitationMode.General) => ({
  callID: "c1",
  mode,
  caller: "alice",
  extendedData: "",
  timeout: 30,
  createTime: 1,
  callUserList: [
    { userID: "alice", state: CallUserState.Accepted, extendedData: "" },
    { userID: "bob", state: CallUserState.Inviting, extendedData: "" },
    { userID: "carol", state: CallUserState.Inviting, extendedData: "" },
  ],
});

const changed = (...list: [string, CallUserState, string?][]) => ({
  callID: "c1",
  callUserList: list.map(([userID, state, extendedData = ""]) => ({ userID, state, extendedData })),
});

describe("ZIM's deprecated call events", () => {
  it("tells the caller of answers and of invitees that did not answer, once each", () => {
    const legacy = new LegacyCallEvents();
    legacy.derive("callInvitationCreated", created(), "alice");
    expect(
      legacy.derive(
        "callUserStateChanged",
        changed(["bob", CallUserState.Accepted, "hi"], ["carol", CallUserState.Timeout]),
        "alice",
      ),
    ).toEqual([
      {
        name: "callInvitationAccepted",
        data: { callID: "c1", invitee: "bob", extendedData: "hi" },
      },
      { name: "callInviteesAnsweredTimeout", data: { callID: "c1", invitees: ["carol"] } },
    ]);
    // A login picture repeats every member's state: nothing new, nothing emitted.
    expect(
      legacy.derive(
        "callUserStateChanged",
        changed(["bob", CallUserState.Accepted, "hi"], ["carol", CallUserState.Timeout]),
        "alice",
      ),
    ).toEqual([]);
  });

  it("tells an invitee of another invitee's rejection, but not of its own state", () => {
    const legacy = new LegacyCallEvents();
    legacy.derive("callInvitationReceived", { ...created(), inviter: "alice", deadline: 9 }, "bob");
    expect(
      legacy.derive(
        "callUserStateChanged",
        changed(["carol", CallUserState.Rejected, "busy"], ["bob", CallUserState.Timeout]),
        "bob",
      ),
    ).toEqual([
      {
        name: "callInvitationRejected",
        data: { callID: "c1", invitee: "carol", extendedData: "busy" },
      },
    ]);
  });

  it("derives nothing for advanced calls or calls it never saw begin", () => {
    const legacy = new LegacyCallEvents();
    legacy.derive("callInvitationCreated", created(CallInvitationMode.Advanced), "alice");
    expect(
      legacy.derive("callUserStateChanged", changed(["bob", CallUserState.Accepted]), "alice"),
    ).toEqual([]);
    expect(
      new LegacyCallEvents().derive(
        "callUserStateChanged",
        changed(["bob", CallUserState.Rejected]),
        "alice",
      ),
    ).toEqual([]);
  });
});
