// How a call looks from outside: the payloads of events and queries, built in one place.
import {
  type CallInfo,
  type CallInvitationReceivedEvent,
  CallState,
  type CallUserInfo,
  CallUserState,
  isActive,
} from "@beckon/protocol";
import type { Call, Member } from "./call.js";
import type { Audience } from "./decision.js";

export function userInfo(member: Member): CallUserInfo {
  return { userID: member.userID, state: member.state, extendedData: member.extendedData };
}

export function callUserList(call: Call): CallUserInfo[] {
  return call.members.map(userInfo);
}

export function invitationEvent(call: Call, member: Member): CallInvitationReceivedEvent {
  return {
    callID: call.callID,
    mode: call.mode,
    caller: call.caller,
    inviter: member.inviter,
    extendedData: call.extendedData,
    timeout: call.timeout,
    createTime: call.createTime,
    callUserList: callUserList(call),
    deadline: member.deadline,
  };
}

/**
 * The call as `userID` sees it in `queryCallInvitationList`: `inviter` is who invited them
 * (the caller for the caller's own calls).
 */
export function callInfoFor(call: Call, userID: string): CallInfo {
  const member = call.members.find((m) => m.userID === userID);
  return {
    callID: call.callID,
    caller: call.caller,
    inviter: member?.inviter ?? call.caller,
    createTime: call.createTime,
    endTime: call.endTime,
    state: call.state,
    mode: call.mode,
    extendedData: call.extendedData,
    callUserList: callUserList(call),
  };
}

/** The devices that act for a member: its main device once it has one, else all of them. */
export function audienceOf(member: Member): Audience {
  return member.mainDevice === null
    ? { userID: member.userID }
    : { userID: member.userID, device: member.mainDevice };
}

/** Members still in the call's event stream (pending or Accepted). */
export function activeMembers(call: Call): Member[] {
  return call.members.filter((member) => isActive(member.state));
}

export function hasAccepted(call: Call): boolean {
  return call.members.some(
    (member) => member.userID !== call.caller && member.state === CallUserState.Accepted,
  );
}

/** The busy rule (SPEC §5): Accepted in a Started call. `calls` are the user's active calls. */
export function isBusy(calls: readonly Call[], userID: string): boolean {
  return calls.some(
    (call) =>
      call.state === CallState.Started &&
      call.members.some((m) => m.userID === userID && m.state === CallUserState.Accepted),
  );
}
