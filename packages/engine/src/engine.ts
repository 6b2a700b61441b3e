// The call state machine of SPEC §3–§6: (call, command, now) -> decision. Pure: no I/O, no clock.
import {
  BeckonError,
  type CallAcceptanceSentResult,
  type CallCancelSentResult,
  type CallEvent,
  CallInvitationMode,
  type CallInvitationSentResult,
  type CallRejectionSentResult,
  CallState,
  type CallUserInfo,
  CallUserState,
  DEFAULT_TIMEOUT_SECONDS,
  ErrorCode,
  type ErrorUserInfo,
  isPending,
  isValidUserID,
  MAX_INVITEES_PER_INVITE,
  MAX_TIMEOUT_SECONDS,
  MIN_TIMEOUT_SECONDS,
  utf8Length,
} from "@beckon/protocol";
import { type Call, type EngineSettings, findMember, type Member } from "./call.js";
import type { Actor, CallCommand, InviteCommand, TimerKind } from "./commands.js";
import type { Audience, Decision, Delivery } from "./decision.js";
import {
  activeMembers,
  audienceOf,
  callUserList,
  hasAccepted,
  invitationEvent,
  userInfo,
} from "./views.js";

type Empty = Record<string, never>;

export type CommandReply =
  | CallCancelSentResult
  | CallAcceptanceSentResult
  | CallRejectionSentResult
  | Empty;

function fail(code: ErrorCode, message: string): { ok: false; error: BeckonError } {
  return { ok: false, error: new BeckonError(code, message) };
}

function checkExtendedData(
  extendedData: string | undefined,
  settings: EngineSettings,
): BeckonError | null {
  if (extendedData !== undefined && utf8Length(extendedData) > settings.maxExtendedDataBytes) {
    return new BeckonError(
      ErrorCode.ParamsInvalid,
      `extendedData is longer than ${settings.maxExtendedDataBytes} bytes`,
    );
  }
  return null;
}

/** `timeout` in seconds: 0 or absent means the default; otherwise a whole number in range. */
function resolveTimeout(timeout: number | undefined): number | null {
  if (timeout === undefined || timeout === 0) return DEFAULT_TIMEOUT_SECONDS;
  if (
    !Number.isInteger(timeout) ||
    timeout < MIN_TIMEOUT_SECONDS ||
    timeout > MAX_TIMEOUT_SECONDS
  ) {
    return null;
  }
  return timeout;
}

function newMember(userID: string, inviter: string, now: number, timeout: number): Member {
  return {
    userID,
    state: CallUserState.Inviting,
    inviter,
    extendedData: "",
    inviteTime: now,
    deadline: now + timeout * 1000,
    acceptTime: 0,
    quitTime: 0,
    mainDevice: null,
    pushed: false,
  };
}

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

  const errorUserList: ErrorUserInfo[] = [];
  const valid: string[] = [];
  for (const userID of invitees) {
    if (!isValidUserID(userID) || userID === actor.userID) {
      errorUserList.push({ userID, reason: ErrorCode.ParamsInvalid });
    } else if (!command.knownUsers.has(userID)) {
      errorUserList.push({ userID, reason: ErrorCode.CallInviteUserDoesNotExist });
    } else {
      valid.push(userID);
    }
  }
  if (valid.length === 0) {
    const anyUnknown = errorUserList.some((e) => e.reason === ErrorCode.CallInviteUserDoesNotExist);
    return anyUnknown
      ? fail(ErrorCode.CallInviteUserDoesNotExist, "no invitee is a known user")
      : fail(ErrorCode.ParamsInvalid, "no invitee is a valid user ID");
  }

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
  };
}

/**
 * A mutable copy of the call being decided on, with the events it has produced so far.
 * Commands edit the draft; `finish` applies the lifecycle rules and returns the decision.
 */
class Draft {
  readonly call: Call;
  readonly deliveries: Delivery[] = [];
  private readonly changedMembers: Member[] = [];
  /** Devices that must get one last state change because their user picked another device. */
  private readonly lastWordTo: Audience[] = [];
  /** Set when the command itself ends the call, whatever the mode's automatic end rule says. */
  private ending = false;

  constructor(
    original: Call,
    private readonly now: number,
  ) {
    this.call = structuredClone(original);
  }

  setState(member: Member, state: CallUserState, extendedData?: string): void {
    member.state = state;
    if (extendedData !== undefined) member.extendedData = extendedData;
    if (!this.changedMembers.includes(member)) this.changedMembers.push(member);
  }

  /** The acting device becomes the user's main device; the others get one last change. */
  takeMainDevice(member: Member, deviceID: string): void {
    if (member.mainDevice === null) {
      this.lastWordTo.push({ userID: member.userID, exceptDevice: deviceID });
    } else if (member.mainDevice !== deviceID) {
      this.lastWordTo.push({ userID: member.userID, device: member.mainDevice });
    }
    member.mainDevice = deviceID;
  }

  send(to: Audience, event: CallEvent): void {
    this.deliveries.push({ to, event });
  }

  end(): void {
    this.ending = true;
  }

  finish<R>(reply: R): Decision<R> {
    const { call } = this;
    if (this.changedMembers.length > 0) {
      const list: CallUserInfo[] = this.changedMembers.map(userInfo);
      const event: CallEvent = {
        name: "callUserStateChanged",
        data: { callID: call.callID, callUserList: list },
      };
      for (const member of activeMembers(call)) this.send(audienceOf(member), event);
      for (const audience of this.lastWordTo) this.send(audience, event);
    }
    if (call.state === CallState.Started && (this.ending || this.isOver())) {
      call.state = CallState.Ended;
      call.endTime = this.now;
      call.callerLostAt = 0;
    }
    call.version += 1;
    return { ok: true, changed: true, call, reply, deliveries: this.deliveries };
  }

  /** SPEC §5: general calls end when nobody is pending, advanced ones when nobody is active. */
  private isOver(): boolean {
    const members = this.call.members;
    if (this.call.mode === CallInvitationMode.General) {
      return !members.some((m) => isPending(m.state));
    }
    return activeMembers(this.call).length === 0;
  }
}

function unchanged<R>(call: Call, reply: R): Decision<R> {
  return { ok: true, changed: false, call, reply, deliveries: [] };
}

/** The reply each kind of command gets. */
export type ReplyOf<C extends CallCommand> = C extends { type: "cancel" }
  ? CallCancelSentResult
  : C extends { type: "accept" }
    ? CallAcceptanceSentResult
    : C extends { type: "reject" }
      ? CallRejectionSentResult
      : Empty;

/** Applies one command to an existing call (SPEC §3, §5, §6). */
export function applyCommand<C extends CallCommand>(
  call: Call,
  command: C,
  now: number,
  settings: EngineSettings,
): Decision<ReplyOf<C>> {
  return decide(call, command, now, settings) as Decision<ReplyOf<C>>;
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
    case "timer":
      return timerFired(call, command.timer, command.userID, now, settings);
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
  draft.send(
    exceptCallerDevice === null
      ? { userID: call.caller }
      : { userID: call.caller, exceptDevice: exceptCallerDevice },
    event,
  );
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
