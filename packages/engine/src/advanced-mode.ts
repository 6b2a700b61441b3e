// The advanced-mode operations of SPEC §3: invite more people, join, quit, end, and withdraw
// some invitations while the call goes on.
import {
  type BeckonError,
  type CallCancelSentResult,
  type CallEndSentResult,
  type CallEvent,
  CallInvitationMode,
  type CallingInvitationSentResult,
  type CallJoinSentResult,
  type CallQuitSentResult,
  CallState,
  CallUserState,
  ErrorCode,
  isActive,
  isPending,
  MAX_ACTIVE_MEMBERS,
} from "@beckon/protocol";
import { type Call, type EngineSettings, findMember, type Member } from "./call.js";
import type { Actor, CallCommand } from "./commands.js";
import type { Decision } from "./decision.js";
import { checkExtendedData, Draft, fail, newMember, screenInvitees, unchanged } from "./draft.js";
import { activeMembers, audienceOf, callUserList, invitationEvent } from "./views.js";

type Refusal = { ok: false; error: BeckonError };

/** The checks every advanced-only operation starts with, in SPEC order. */
function requireAdvancedStarted(call: Call, operation: string): Refusal | null {
  if (call.mode !== CallInvitationMode.Advanced) {
    return fail(ErrorCode.CallModeMismatch, `${operation} needs an advanced-mode call`);
  }
  if (call.state !== CallState.Started)
    return fail(ErrorCode.CallCommonError, "the call has ended");
  return null;
}

function requireAccepted(call: Call, actor: Actor, operation: string): Member | Refusal {
  const member = findMember(call, actor.userID);
  if (member?.state !== CallUserState.Accepted) {
    const state = member ? CallUserState[member.state] : "not a member";
    return fail(ErrorCode.CallCommonError, `cannot ${operation} in state ${state}`);
  }
  return member;
}

export function callingInvite(
  call: Call,
  command: Extract<CallCommand, { type: "callingInvite" }>,
  now: number,
): Decision<CallingInvitationSentResult> {
  const refused = requireAdvancedStarted(call, "callingInvite");
  if (refused) return refused;
  const inviter = requireAccepted(call, command.actor, "invite");
  if ("ok" in inviter) return inviter;
  if (command.invitees.length === 0) return fail(ErrorCode.ParamsInvalid, "invitees is empty");
  const invitees = [...new Set(command.invitees)];
  const screened = screenInvitees(invitees, command.actor.userID, command.knownUsers, (userID) => {
    const member = findMember(call, userID);
    return member && isActive(member.state) ? ErrorCode.CallUserAlreadyInTheCall : null;
  });
  if ("ok" in screened) return screened;
  if (activeMembers(call).length + screened.valid.length > MAX_ACTIVE_MEMBERS) {
    return fail(
      ErrorCode.CallLimitExceeded,
      `a call holds at most ${MAX_ACTIVE_MEMBERS} active members`,
    );
  }

  const draft = new Draft(call, now);
  for (const userID of screened.valid) {
    const fresh = newMember(userID, command.actor.userID, now, call.timeout);
    const existing = findMember(draft.call, userID);
    // A previously terminal member starts over: new inviter, new deadline, no main device.
    const member = existing ? Object.assign(existing, fresh) : fresh;
    if (!existing) draft.call.members.push(member);
    draft.setState(member, CallUserState.Inviting, "");
    draft.skipStateChangeFor(userID);
  }
  for (const userID of screened.valid) {
    const member = findMember(draft.call, userID) as Member;
    draft.send(
      { userID },
      { name: "callInvitationReceived", data: invitationEvent(draft.call, member) },
    );
  }
  return draft.finish({ callID: call.callID, errorUserList: screened.errorUserList });
}

export function join(
  call: Call,
  actor: Actor,
  extendedData: string | undefined,
  now: number,
  settings: EngineSettings,
): Decision<CallJoinSentResult> {
  const dataError = checkExtendedData(extendedData, settings);
  if (dataError) return { ok: false, error: dataError };
  const refused = requireAdvancedStarted(call, "callJoin");
  if (refused) return refused;
  const member = findMember(call, actor.userID);
  if (member?.state === CallUserState.Accepted && member.mainDevice === actor.deviceID) {
    return fail(ErrorCode.CallUserAlreadyInTheCall, "this device is already in the call");
  }
  if (!member || !isActive(member.state)) {
    if (activeMembers(call).length + 1 > MAX_ACTIVE_MEMBERS) {
      return fail(
        ErrorCode.CallLimitExceeded,
        `a call holds at most ${MAX_ACTIVE_MEMBERS} active members`,
      );
    }
  }

  const draft = new Draft(call, now);
  const reply = (joined: Member): CallJoinSentResult => ({
    callID: call.callID,
    createTime: call.createTime,
    joinTime: joined.acceptTime,
    extendedData: call.extendedData,
    callUserList: callUserList(draft.call),
  });
  const existing = findMember(draft.call, actor.userID);
  if (existing?.state === CallUserState.Accepted) {
    // A device switch: this device now acts for the user; nobody else is told (SPEC §3).
    existing.mainDevice = actor.deviceID;
    // Caller lost watches the caller's main device (SPEC §5), and that is this live one now.
    if (actor.userID === call.caller) draft.call.callerLostAt = 0;
    return draft.finish(reply(existing));
  }
  const joined = existing ?? newMember(actor.userID, "", now, 0);
  if (!existing) draft.call.members.push(joined);
  Object.assign(joined, { deadline: 0, acceptTime: now, quitTime: 0 });
  if (existing && !isPending(existing.state)) joined.mainDevice = null;
  draft.takeMainDevice(joined, actor.deviceID);
  draft.setState(joined, CallUserState.Accepted, extendedData ?? "");
  draft.call.callerLostAt = 0;
  return draft.finish(reply(joined));
}

export function quit(
  call: Call,
  actor: Actor,
  extendedData: string | undefined,
  now: number,
  settings: EngineSettings,
): Decision<CallQuitSentResult> {
  const dataError = checkExtendedData(extendedData, settings);
  if (dataError) return { ok: false, error: dataError };
  if (call.mode !== CallInvitationMode.Advanced) {
    return fail(ErrorCode.CallModeMismatch, "callQuit needs an advanced-mode call");
  }
  const accepted = requireAccepted(call, actor, "quit");
  if ("ok" in accepted) return accepted;
  // An ended call never changes again, so there is nothing left to quit.
  if (call.state !== CallState.Started)
    return fail(ErrorCode.CallCommonError, "the call has ended");
  const draft = new Draft(call, now);
  const member = findMember(draft.call, actor.userID) as Member;
  member.quitTime = now;
  draft.setState(member, CallUserState.Quit, extendedData ?? "");
  return draft.finish({
    callID: call.callID,
    createTime: call.createTime,
    acceptTime: member.acceptTime,
    quitTime: now,
  });
}

export function endCall(
  call: Call,
  actor: Actor,
  extendedData: string | undefined,
  now: number,
  settings: EngineSettings,
): Decision<CallEndSentResult> {
  const dataError = checkExtendedData(extendedData, settings);
  if (dataError) return { ok: false, error: dataError };
  const refused = requireAdvancedStarted(call, "callEnd");
  if (refused) return refused;
  const accepted = requireAccepted(call, actor, "end the call");
  if ("ok" in accepted) return accepted;
  const draft = new Draft(call, now);
  const event: CallEvent = {
    name: "callInvitationEnded",
    data: {
      callID: call.callID,
      mode: call.mode,
      caller: call.caller,
      operatedUserID: actor.userID,
      extendedData: extendedData ?? "",
      endTime: now,
    },
  };
  // Member states stay as they are (SPEC §3); everyone still in the call is told it is over.
  for (const member of activeMembers(draft.call)) draft.send(audienceOf(member), event);
  draft.end();
  return draft.finish({
    callID: call.callID,
    createTime: call.createTime,
    acceptTime: accepted.acceptTime,
    endTime: now,
  });
}

/** Advanced-mode cancel of listed invitees: only those the actor invited, and still pending. */
export function cancelListed(
  call: Call,
  actor: Actor,
  invitees: readonly string[],
  extendedData: string,
  now: number,
): Decision<CallCancelSentResult> {
  if (call.state !== CallState.Started)
    return fail(ErrorCode.CallCancelError, "the call has ended");
  const listed = [...new Set(invitees)];
  const mine = listed
    .map((userID) => findMember(call, userID))
    .filter((member): member is Member => member?.inviter === actor.userID);
  if (mine.length === 0) {
    return fail(ErrorCode.CallIsNotInviter, "you did not invite any of these users");
  }
  const draft = new Draft(call, now);
  const event: CallEvent = {
    name: "callInvitationCancelled",
    data: { callID: call.callID, mode: call.mode, inviter: actor.userID, extendedData },
  };
  const cancelled = new Set<string>();
  for (const { userID } of mine) {
    const member = findMember(draft.call, userID) as Member;
    if (!isPending(member.state)) continue;
    draft.setState(member, CallUserState.BeCancelled);
    draft.send(audienceOf(member), event);
    cancelled.add(userID);
  }
  const errorInvitees = listed.filter((userID) => !cancelled.has(userID));
  if (cancelled.size === 0) {
    return unchanged(call, { callID: call.callID, errorInvitees });
  }
  return draft.finish({ callID: call.callID, errorInvitees });
}
