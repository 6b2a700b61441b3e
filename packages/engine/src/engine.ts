// The call state machine of SPEC §3–§6: (call, command, now) -> decision. Pure: no I/O, no clock.
import {
  type CallAcceptanceSentResult,
  type CallCancelSentResult,
  type CallEndSentResult,
  type CallEvent,
  CallInvitationMode,
  type CallingInvitationSentResult,
  type CallJoinSentResult,
  type CallQuitSentResult,
  type CallRejectionSentResult,
  CallState,
  CallUserState,
  ErrorCode,
  isPending,
} from "@beckon/protocol";
import { callingInvite, cancelListed, endCall, join, quit } from "./advanced-mode.js";
import { type Call, type EngineSettings, findMember, type Member } from "./call.js";
import type { Actor, CallCommand, TimerKind } from "./commands.js";
import type { Decision } from "./decision.js";
import { checkExtendedData, Draft, type Empty, fail, unchanged } from "./draft.js";
import { factsBetween } from "./facts.js";
import { memberAway, memberBack, vanished } from "./presence-rules.js";
import { audienceOf, hasAccepted } from "./views.js";

export type CommandReply =
  | CallCancelSentResult
  | CallAcceptanceSentResult
  | CallRejectionSentResult
  | CallingInvitationSentResult
  | CallJoinSentResult
  | CallQuitSentResult
  | CallEndSentResult
  | Empty;

/** The reply each kind of command gets. */
export type ReplyOf<C extends CallCommand> = C extends { type: "cancel" }
  ? CallCancelSentResult
  : C extends { type: "accept" }
    ? CallAcceptanceSentResult
    : C extends { type: "reject" }
      ? CallRejectionSentResult
      : C extends { type: "callingInvite" }
        ? CallingInvitationSentResult
        : C extends { type: "join" }
          ? CallJoinSentResult
          : C extends { type: "quit" }
            ? CallQuitSentResult
            : C extends { type: "end" }
              ? CallEndSentResult
              : Empty;

/** Applies one command to an existing call (SPEC §3, §5, §6). */
export function applyCommand<C extends CallCommand>(
  call: Call,
  command: C,
  now: number,
  settings: EngineSettings,
): Decision<ReplyOf<C>> {
  const decision = decide(call, command, now, settings) as Decision<ReplyOf<C>>;
  if (decision.ok && decision.changed) {
    decision.facts = factsBetween(
      call,
      decision.call,
      "actor" in command ? command.actor : undefined,
      now,
    );
  }
  return decision;
}

function decide(
  call: Call,
  command: CallCommand,
  now: number,
  settings: EngineSettings,
): Decision<CommandReply> {
  switch (command.type) {
    case "cancel":
      return cancel(call, command.actor, command.invitees, command.extendedData, now, settings);
    case "accept":
      return answer(
        call,
        command.actor,
        CallUserState.Accepted,
        command.extendedData,
        now,
        settings,
      );
    case "reject":
      return answer(
        call,
        command.actor,
        CallUserState.Rejected,
        command.extendedData,
        now,
        settings,
      );
    case "receipt":
      return receipt(call, command.actor, now);
    case "deviceLost":
      return deviceLost(call, command.actor, now, settings);
    case "deviceBack":
      return deviceBack(call, command.actor, now);
    case "logout":
      return logout(call, command.actor, now);
    case "memberAway":
      return memberAway(call, command.userID, now);
    case "memberBack":
      return memberBack(call, command.userID, now);
    case "timer":
      return timerFired(call, command.timer, command.userID, now, settings);
    case "callingInvite":
      return callingInvite(call, command, now);
    case "join":
      return join(call, command.actor, command.extendedData, now, settings);
    case "quit":
      return quit(call, command.actor, command.extendedData, now, settings);
    case "end":
      return endCall(call, command.actor, command.extendedData, now, settings);
  }
}

function cancel(
  call: Call,
  actor: Actor,
  invitees: readonly string[],
  extendedData: string | undefined,
  now: number,
  settings: EngineSettings,
): Decision<CallCancelSentResult> {
  const dataError = checkExtendedData(extendedData, settings);
  if (dataError) return { ok: false, error: dataError };
  // SPEC §3: in advanced mode a listed cancel withdraws only those invitations.
  if (call.mode === CallInvitationMode.Advanced && invitees.length > 0) {
    return cancelListed(call, actor, invitees, extendedData ?? "", now);
  }
  if (call.caller !== actor.userID) {
    return fail(ErrorCode.CallIsNotInviter, "only the caller can cancel the call");
  }
  if (call.state !== CallState.Started) {
    return fail(ErrorCode.CallCancelError, "the call has ended");
  }
  if (hasAccepted(call)) {
    return fail(ErrorCode.CallCancelError, "an invitee has already accepted");
  }
  const draft = new Draft(call, now);
  const cancelled = cancelAllPending(draft, extendedData ?? "", actor.deviceID);
  const errorInvitees = [...new Set(invitees)].filter((userID) => !cancelled.has(userID));
  return draft.finish({ callID: call.callID, errorInvitees });
}

/**
 * Every pending invitee becomes Cancelled; they and the caller's other devices are told. The call
 * is then over in either mode (SPEC §3 callCancel), even though an advanced call's caller is
 * still Accepted.
 */
function cancelAllPending(draft: Draft, extendedData: string, exceptCallerDevice: string | null) {
  const { call } = draft;
  const cancelled = new Set<string>();
  const event: CallEvent = {
    name: "callInvitationCancelled",
    data: { callID: call.callID, mode: call.mode, inviter: call.caller, extendedData },
  };
  for (const member of call.members) {
    if (!isPending(member.state)) continue;
    draft.setState(member, CallUserState.Cancelled);
    cancelled.add(member.userID);
    draft.send(audienceOf(member), event);
  }
  draft.end();
  // An advanced call's caller may have quit (or been re-invited, and just cancelled above): a
  // terminal member gets no further events of the call (SPEC §4).
  if (findMember(call, call.caller)?.state === CallUserState.Accepted) {
    draft.send(
      exceptCallerDevice === null
        ? { userID: call.caller }
        : { userID: call.caller, exceptDevice: exceptCallerDevice },
      event,
    );
  }
  return cancelled;
}

function answer(
  call: Call,
  actor: Actor,
  state: CallUserState.Accepted | CallUserState.Rejected,
  extendedData: string | undefined,
  now: number,
  settings: EngineSettings,
): Decision<CallAcceptanceSentResult | CallRejectionSentResult> {
  const dataError = checkExtendedData(extendedData, settings);
  if (dataError) return { ok: false, error: dataError };
  const member = findMember(call, actor.userID);
  if (!member) return fail(ErrorCode.CallIsNotInvitee, "you are not invited to this call");
  const verb = state === CallUserState.Accepted ? "accept" : "reject";
  if (!isPending(member.state)) {
    return fail(
      ErrorCode.CallCommonError,
      `cannot ${verb} in state ${CallUserState[member.state]}`,
    );
  }
  if (call.state !== CallState.Started) {
    return fail(ErrorCode.CallCommonError, "the call has ended");
  }
  // The deadline wins even if its timer has not run yet (e.g. just after a restart).
  if (member.deadline !== 0 && member.deadline <= now) {
    return fail(ErrorCode.CallCommonError, "the invitation has timed out");
  }
  const draft = new Draft(call, now);
  const draftMember = findMember(draft.call, actor.userID) as Member;
  draft.takeMainDevice(draftMember, actor.deviceID);
  draft.setState(draftMember, state, extendedData ?? "");
  if (state === CallUserState.Accepted) {
    draftMember.acceptTime = now;
    // Someone answered: a lost caller no longer cancels the call.
    draft.call.callerLostAt = 0;
  }
  return draft.finish({ callID: call.callID });
}

function receipt(call: Call, actor: Actor, now: number): Decision<Empty> {
  const member = findMember(call, actor.userID);
  // A stranger's receipt gets what an unknown call gets, so receipts cannot probe for calls.
  if (!member) return fail(ErrorCode.CallDoesNotExist, "no such call");
  const receivable =
    member?.state === CallUserState.Inviting || member?.state === CallUserState.NotYetReceived;
  if (call.state !== CallState.Started || !receivable || (member?.deadline ?? 0) <= now) {
    return unchanged(call, {});
  }
  const draft = new Draft(call, now);
  draft.setState(findMember(draft.call, actor.userID) as Member, CallUserState.Received);
  return draft.finish({});
}

function callerLostApplies(call: Call, actor: Actor): boolean {
  const caller = findMember(call, call.caller);
  return (
    call.state === CallState.Started &&
    actor.userID === call.caller &&
    caller?.mainDevice === actor.deviceID &&
    !hasAccepted(call)
  );
}

function deviceLost(call: Call, actor: Actor, now: number, settings: EngineSettings) {
  if (!callerLostApplies(call, actor) || call.callerLostAt !== 0) return unchanged(call, {});
  const draft = new Draft(call, now);
  draft.call.callerLostAt = now + settings.callerGraceMs;
  return draft.finish({});
}

function deviceBack(call: Call, actor: Actor, now: number): Decision<Empty> {
  if (call.callerLostAt === 0 || !callerLostApplies(call, actor)) return unchanged(call, {});
  const draft = new Draft(call, now);
  draft.call.callerLostAt = 0;
  return draft.finish({});
}

function logout(call: Call, actor: Actor, now: number): Decision<Empty> {
  if (!callerLostApplies(call, actor)) return unchanged(call, {});
  const draft = new Draft(call, now);
  cancelAllPending(draft, "", actor.deviceID);
  return draft.finish({});
}

function timerFired(
  call: Call,
  timer: TimerKind,
  userID: string,
  now: number,
  settings: EngineSettings,
): Decision<Empty> {
  if (call.state !== CallState.Started) return unchanged(call, {});
  const member = findMember(call, userID);
  switch (timer) {
    case "deadline": {
      if (!member || !isPending(member.state) || member.deadline > now) return unchanged(call, {});
      const draft = new Draft(call, now);
      const draftMember = findMember(draft.call, userID) as Member;
      draft.setState(draftMember, CallUserState.Timeout);
      draft.send(audienceOf(draftMember), {
        name: "callInvitationTimeout",
        data: { callID: call.callID, mode: call.mode },
      });
      return draft.finish({});
    }
    case "notReceived": {
      if (
        !member ||
        member.state !== CallUserState.Inviting ||
        !call.enableNotReceivedCheck ||
        member.inviteTime + settings.notReceivedCheckMs > now
      ) {
        return unchanged(call, {});
      }
      const draft = new Draft(call, now);
      draft.setState(findMember(draft.call, userID) as Member, CallUserState.NotYetReceived);
      return draft.finish({});
    }
    case "vanished":
      return vanished(call, userID, now, settings);
    case "callerLost": {
      if (call.callerLostAt === 0 || call.callerLostAt > now || hasAccepted(call)) {
        return unchanged(call, {});
      }
      const draft = new Draft(call, now);
      cancelAllPending(draft, "", null);
      return draft.finish({});
    }
  }
}
