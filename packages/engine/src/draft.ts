// The working copy a command edits, and the checks every command shares.
import {
  BeckonError,
  type CallEvent,
  CallInvitationMode,
  CallState,
  type CallUserInfo,
  CallUserState,
  DEFAULT_TIMEOUT_SECONDS,
  ErrorCode,
  type ErrorUserInfo,
  isPending,
  isTerminal,
  isValidUserID,
  MAX_TIMEOUT_SECONDS,
  MIN_TIMEOUT_SECONDS,
  utf8Length,
} from "@beckon/protocol";
import type { Call, EngineSettings, Member } from "./call.js";
import type { Audience, Decision, Delivery } from "./decision.js";
import { activeMembers, audienceOf, userInfo } from "./views.js";

export type Empty = Record<string, never>;

export function fail(code: ErrorCode, message: string): { ok: false; error: BeckonError } {
  return { ok: false, error: new BeckonError(code, message) };
}

export function checkExtendedData(
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
export function resolveTimeout(timeout: number | undefined): number | null {
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

export function newMember(userID: string, inviter: string, now: number, timeout: number): Member {
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

export interface ScreenedInvitees {
  valid: string[];
  errorUserList: ErrorUserInfo[];
}

/**
 * Sorts invitees into those who can be invited and `errorUserList` entries: invalid IDs and the
 * inviter itself (6000001), unknown users (6000281), and whatever `refuse` says (e.g. already in
 * the call). With nobody valid the whole operation fails.
 */
export function screenInvitees(
  invitees: readonly string[],
  inviter: string,
  knownUsers: ReadonlySet<string>,
  refuse: (userID: string) => ErrorCode | null = () => null,
): ScreenedInvitees | { ok: false; error: BeckonError } {
  const errorUserList: ErrorUserInfo[] = [];
  const valid: string[] = [];
  for (const userID of invitees) {
    const refusal = refuse(userID);
    if (!isValidUserID(userID) || userID === inviter) {
      errorUserList.push({ userID, reason: ErrorCode.ParamsInvalid });
    } else if (!knownUsers.has(userID)) {
      errorUserList.push({ userID, reason: ErrorCode.CallInviteUserDoesNotExist });
    } else if (refusal !== null) {
      errorUserList.push({ userID, reason: refusal });
    } else {
      valid.push(userID);
    }
  }
  if (valid.length > 0) return { valid, errorUserList };
  const reasons = new Set(errorUserList.map((e) => e.reason));
  if (reasons.has(ErrorCode.CallInviteUserDoesNotExist)) {
    return fail(ErrorCode.CallInviteUserDoesNotExist, "no invitee is a known user");
  }
  if (reasons.has(ErrorCode.CallUserAlreadyInTheCall)) {
    return fail(ErrorCode.CallUserAlreadyInTheCall, "every invitee is already in the call");
  }
  return fail(ErrorCode.ParamsInvalid, "no invitee is a valid user ID");
}

/**
 * A mutable copy of the call being decided on, with the events it has produced so far.
 * Commands edit the draft; `finish` applies the lifecycle rules and returns the decision.
 */
export class Draft {
  readonly call: Call;
  readonly deliveries: Delivery[] = [];
  private readonly changedMembers: Member[] = [];
  /** Devices that get this command's state change besides the active members' main devices. */
  private readonly lastWordTo: Audience[] = [];
  /** Set when the command itself ends the call, whatever the mode's automatic end rule says. */
  private ending = false;
  /** Users already told by a richer event (a fresh invitation), who need no state change. */
  private readonly quiet = new Set<string>();

  constructor(
    original: Call,
    private readonly now: number,
  ) {
    // Members are the only part a command edits in place; the rest is copied by reference
    // (pushConfig is never edited), which is several times cheaper than structuredClone.
    this.call = { ...original, members: original.members.map((member) => ({ ...member })) };
  }

  setState(member: Member, state: CallUserState, extendedData?: string): void {
    member.state = state;
    // Acting again means being back; a member leaving the Accepted state has no grace to run.
    delete member.awayAt;
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

  /** The user learns of this change another way (e.g. `callInvitationReceived`). */
  skipStateChangeFor(userID: string): void {
    this.quiet.add(userID);
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
      for (const member of activeMembers(call)) {
        if (!this.quiet.has(member.userID)) this.send(audienceOf(member), event);
      }
      for (const audience of this.lastWordTo) this.send(audience, event);
      // SPEC §4: a member whose own state just became terminal is told it, as ZIM's SDKs do.
      for (const member of this.changedMembers) {
        if (isTerminal(member.state)) this.send(audienceOf(member), event);
      }
    }
    if (call.state === CallState.Started && (this.ending || this.isOver())) {
      call.state = CallState.Ended;
      call.endTime = this.now;
      call.callerLostAt = 0;
    }
    call.version += 1;
    return { ok: true, changed: true, call, reply, deliveries: this.deliveries, facts: [] };
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

export function unchanged<R>(call: Call, reply: R): Decision<R> {
  return { ok: true, changed: false, call, reply, deliveries: [], facts: [] };
}
