// What a device that could not resume its event stream is told instead (SPEC §5 "Offline"):
// the current picture of each call it is in, and how each call it still thought open ended.
import {
  type CallEvent,
  CallInvitationMode,
  CallState,
  CallUserState,
  isActive,
  isPending,
} from "@beckon/protocol";
import { type Call, findMember } from "./call.js";
import { callUserList, invitationEvent } from "./views.js";

function everyoneNow(call: Call): CallEvent {
  return {
    name: "callUserStateChanged",
    data: { callID: call.callID, callUserList: callUserList(call) },
  };
}

/**
 * The picture of one call for a device of `userID` at login: the invitation while it still
 * rings, or every member's state for a running call this device acts in. Other devices of a
 * member with a main device see the call only through the query (SPEC §5 "Multi-device").
 */
export function pictureFor(
  call: Call,
  userID: string,
  deviceID: string,
  now: number,
  /** The device says it shows the call already (its `openCalls`): an invitation is no news. */
  shown = false,
): CallEvent | null {
  const member = findMember(call, userID);
  if (call.state !== CallState.Started || !member) return null;
  if (isPending(member.state)) {
    if (member.deadline <= now) return null;
    // A device that rings already is told where everyone stands, not invited a second time.
    return shown
      ? everyoneNow(call)
      : { name: "callInvitationReceived", data: invitationEvent(call, member) };
  }
  const actsHere = member.mainDevice === null || member.mainDevice === deviceID;
  return member.state === CallUserState.Accepted && actsHere ? everyoneNow(call) : null;
}

/**
 * For a call the device still thought open but which is over for its user: the event that would
 * have closed it, so an app that missed it stops ringing or leaves the call.
 */
export function closingEventFor(call: Call, userID: string): CallEvent | null {
  const member = findMember(call, userID);
  if (!member) return null;
  const base = { callID: call.callID, mode: call.mode };
  switch (member.state) {
    case CallUserState.Cancelled:
      return {
        name: "callInvitationCancelled",
        data: { ...base, inviter: call.caller, extendedData: "" },
      };
    case CallUserState.BeCancelled:
      return {
        name: "callInvitationCancelled",
        data: { ...base, inviter: member.inviter, extendedData: "" },
      };
    case CallUserState.Timeout:
      return { name: "callInvitationTimeout", data: base };
  }
  // An advanced call ended by callEnd leaves states as they were: say it ended.
  if (call.state === CallState.Ended && isActive(member.state)) {
    if (call.mode === CallInvitationMode.Advanced) {
      return {
        name: "callInvitationEnded",
        data: {
          ...base,
          caller: call.caller,
          operatedUserID: "",
          extendedData: "",
          endTime: call.endTime,
        },
      };
    }
  }
  return everyoneNow(call);
}
