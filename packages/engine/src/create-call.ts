// `callInvite`: a new call, its caller Accepted and its invitees ringing (SPEC §3).
import {
  CallInvitationMode,
  type CallInvitationSentResult,
  CallState,
  CallUserState,
  ErrorCode,
  MAX_INVITEES_PER_INVITE,
  MAX_TIMEOUT_SECONDS,
  MIN_TIMEOUT_SECONDS,
} from "@beckon/protocol";
import type { Call, EngineSettings, Member } from "./call.js";
import type { InviteCommand } from "./commands.js";
import type { Decision, Delivery } from "./decision.js";
import { checkExtendedData, fail, newMember, resolveTimeout, screenInvitees } from "./draft.js";
import { factsBetween } from "./facts.js";
import { callUserList, invitationEvent } from "./views.js";

/** Creates a call from `callInvite` (SPEC §3). */
export function createCall(
  command: InviteCommand,
  now: number,
  settings: EngineSettings,
): Decision<CallInvitationSentResult> {
  const { actor } = command;
  const mode = command.mode ?? CallInvitationMode.General;
  if (mode !== CallInvitationMode.General && mode !== CallInvitationMode.Advanced) {
    return fail(ErrorCode.ParamsInvalid, `unknown mode ${String(mode)}`);
  }
  const timeout = resolveTimeout(command.timeout);
  if (timeout === null) {
    return fail(
      ErrorCode.ParamsInvalid,
      `timeout must be a whole number of seconds from ${MIN_TIMEOUT_SECONDS} to ${MAX_TIMEOUT_SECONDS}`,
    );
  }
  const dataError = checkExtendedData(command.extendedData, settings);
  if (dataError) return { ok: false, error: dataError };
  if (command.invitees.length === 0) return fail(ErrorCode.ParamsInvalid, "invitees is empty");
  const invitees = [...new Set(command.invitees)];
  if (invitees.length > MAX_INVITEES_PER_INVITE) {
    return fail(
      ErrorCode.CallLimitExceeded,
      `at most ${MAX_INVITEES_PER_INVITE} invitees per invitation`,
    );
  }
  if (command.callerBusy) {
    return fail(ErrorCode.CallCommonError, "the caller is already in a call");
  }

  const screened = screenInvitees(invitees, actor.userID, command.knownUsers);
  if ("ok" in screened) return screened;
  const { valid, errorUserList } = screened;

  const caller: Member = {
    ...newMember(actor.userID, actor.userID, now, 0),
    state: CallUserState.Accepted,
    deadline: 0,
    acceptTime: now,
    mainDevice: actor.deviceID,
  };
  const call: Call = {
    callID: command.callID,
    mode,
    caller: actor.userID,
    createTime: now,
    endTime: 0,
    state: CallState.Started,
    timeout,
    extendedData: command.extendedData ?? "",
    enableNotReceivedCheck: command.enableNotReceivedCheck ?? false,
    pushConfig: command.pushConfig ?? null,
    callerLostAt: 0,
    version: 1,
    members: [caller, ...valid.map((userID) => newMember(userID, actor.userID, now, timeout))],
  };

  const deliveries: Delivery[] = [
    {
      // Every device of the caller, the creating one included, as in ZIM.
      to: { userID: actor.userID },
      event: {
        name: "callInvitationCreated",
        data: {
          callID: call.callID,
          mode,
          caller: call.caller,
          extendedData: call.extendedData,
          timeout,
          createTime: now,
          callUserList: callUserList(call),
        },
      },
    },
    ...call.members
      .filter((member) => member.userID !== call.caller)
      .map(
        (member): Delivery => ({
          to: { userID: member.userID },
          event: { name: "callInvitationReceived", data: invitationEvent(call, member) },
        }),
      ),
  ];
  return {
    ok: true,
    changed: true,
    call,
    reply: { callID: call.callID, timeout, errorUserList },
    deliveries,
    facts: factsBetween(null, call, actor, now),
  };
}
