// The calls this device knows about, as the SDK's events and this device's own answers describe
// them. It decides nothing the server decides: it only remembers states and derives what to show.
import {
  type CallInvitationCancelledEvent,
  type CallInvitationCreatedEvent,
  type CallInvitationEndedEvent,
  CallInvitationMode,
  type CallInvitationReceivedEvent,
  type CallInvitationTimeoutEvent,
  type CallUserInfo,
  CallUserState,
  type CallUserStateChangedEvent,
} from "@beckon/sdk";
import type { Tone } from "./call-labels.js";

export type CallPhase = "ringing" | "outgoing" | "in-call" | "over";

export interface MemberRecord {
  userID: string;
  state: CallUserState;
  extendedData: string;
  /** Epoch ms when this member's invitation times out, while it is pending and known. */
  deadline: number | null;
}

export interface CallRecord {
  readonly callID: string;
  mode: CallInvitationMode;
  caller: string;
  /** Who invited this user (the caller, or an accepted member in advanced mode). */
  inviter: string;
  extendedData: string;
  /** Seconds each invitation rings. */
  timeout: number;
  createTime: number;
  members: Map<string, MemberRecord>;
  /** Why the call is over for this device, once it is. */
  closed: { reason: string; tone: Tone } | null;
  /** The incoming-call screen, or a card in the list of calls. */
  surface: "incoming" | "card";
  /** This device created, answered or joined the call, so it gets all of the call's events. */
  mainHere: boolean;
  /** Bumped on every change; newest calls sort first. */
  touched: number;
}

const pending = new Set([
  CallUserState.Inviting,
  CallUserState.Received,
  CallUserState.NotYetReceived,
]);

export function isPendingState(state: CallUserState | undefined): boolean {
  return state !== undefined && pending.has(state);
}

let clock = 0;

export class CallBook {
  private readonly calls = new Map<string, CallRecord>();

  constructor(readonly me: string) {}

  get(callID: string): CallRecord | undefined {
    return this.calls.get(callID);
  }

  /** Newest first. */
  list(): CallRecord[] {
    return [...this.calls.values()].sort((a, b) => b.touched - a.touched);
  }

  remove(callID: string): void {
    this.calls.delete(callID);
  }

  myState(call: CallRecord): CallUserState | undefined {
    return call.members.get(this.me)?.state;
  }

  phase(call: CallRecord): CallPhase {
    if (call.closed) return "over";
    const mine = this.myState(call);
    if (isPendingState(mine)) return "ringing";
    if (mine !== CallUserState.Accepted) return "over";
    const others = [...call.members.values()].filter((member) => member.userID !== this.me);
    if (others.some((member) => member.state === CallUserState.Accepted)) return "in-call";
    if (others.some((member) => isPendingState(member.state))) return "outgoing";
    // An advanced call goes on while anyone is in it, even alone; a general one is decided.
    return call.mode === CallInvitationMode.Advanced ? "in-call" : "over";
  }

  /** A sentence for a call that is over ("bob rejected", "No answer", …). */
  outcome(call: CallRecord): { reason: string; tone: Tone } {
    if (call.closed) return call.closed;
    const others = [...call.members.values()].filter((member) => member.userID !== this.me);
    const states = new Set(others.map((member) => member.state));
    const names = others.map((member) => member.userID).join(", ");
    if (states.size === 1 && states.has(CallUserState.Rejected)) {
      return { reason: `${names} rejected the call`, tone: "bad" };
    }
    if (states.size === 1 && states.has(CallUserState.Timeout)) {
      return { reason: `No answer: the call timed out`, tone: "bad" };
    }
    return { reason: "Nobody answered", tone: "bad" };
  }

  // ── Server events ─────────────────────────────────────────────────────────────────────────

  /** `callInvitationCreated` for a call this device started. */
  created(event: CallInvitationCreatedEvent): CallRecord {
    const call = this.upsert(event.callID, event.mode, event.caller, event.caller);
    call.extendedData = event.extendedData;
    call.timeout = event.timeout;
    call.createTime = event.createTime;
    call.mainHere = true;
    call.surface = "card";
    this.applyMembers(call, event.callUserList, event.createTime + event.timeout * 1000);
    return call;
  }

  received(event: CallInvitationReceivedEvent): CallRecord {
    const call = this.upsert(event.callID, event.mode, event.caller, event.inviter);
    call.extendedData = event.extendedData;
    call.timeout = event.timeout;
    call.createTime = event.createTime;
    // Invited (again): whatever this device showed of the call before is history.
    call.closed = null;
    call.surface = "incoming";
    call.mainHere = false;
    this.applyMembers(call, event.callUserList, null);
    const mine = call.members.get(this.me);
    const state = isPendingState(mine?.state) ? mine!.state : CallUserState.Inviting;
    this.setMember(call, this.me, state, mine?.extendedData ?? "", event.deadline);
    return call;
  }

  stateChanged(event: CallUserStateChangedEvent): CallRecord | undefined {
    const call = this.calls.get(event.callID);
    if (!call) return undefined;
    for (const user of event.callUserList) {
      this.setMember(call, user.userID, user.state, user.extendedData, null);
      // A change of this user's own state that this device did not cause: another device of
      // the same user answered (SPEC §5 multi-device), so this one stops ringing.
      if (
        user.userID === this.me &&
        !call.mainHere &&
        !call.closed &&
        !isPendingState(user.state)
      ) {
        call.closed = {
          reason:
            user.state === CallUserState.Accepted
              ? "Answered on another device"
              : user.state === CallUserState.Rejected
                ? "Rejected on another device"
                : "Handled on another device",
          tone: "muted",
        };
      }
    }
    this.touch(call);
    return call;
  }

  cancelled(event: CallInvitationCancelledEvent): CallRecord | undefined {
    const call = this.calls.get(event.callID);
    if (!call) return undefined;
    if (call.caller === this.me) {
      for (const member of call.members.values()) {
        if (isPendingState(member.state)) member.state = CallUserState.Cancelled;
      }
      call.closed ??= { reason: "Cancelled", tone: "muted" };
    } else {
      // The event does not say whether the whole call or only this invitation was cancelled
      // (BeCancelled); either way this user's invitation is over.
      const mine = call.members.get(this.me);
      if (mine) mine.state = CallUserState.Cancelled;
      call.closed = { reason: `${event.inviter} cancelled the call`, tone: "muted" };
    }
    this.touch(call);
    return call;
  }

  timedOut(event: CallInvitationTimeoutEvent): CallRecord | undefined {
    const call = this.calls.get(event.callID);
    if (!call) return undefined;
    const mine = call.members.get(this.me);
    if (mine) mine.state = CallUserState.Timeout;
    call.closed = { reason: `Missed call from ${call.caller}: it timed out`, tone: "bad" };
    this.touch(call);
    return call;
  }

  ended(event: CallInvitationEndedEvent): CallRecord | undefined {
    const call = this.calls.get(event.callID);
    if (!call) return undefined;
    const by = event.operatedUserID;
    call.closed = {
      reason:
        by === ""
          ? "The call ended: nobody is left in it"
          : by === this.me
            ? "You ended the call"
            : `${by} ended the call`,
      tone: "muted",
    };
    this.touch(call);
    return call;
  }

  // ── This device's own actions ─────────────────────────────────────────────────────────────

  /**
   * This device is about to answer: from now on a change of this user's state is its own doing
   * (the server may announce it before the reply arrives). `false` undoes it after a failure.
   */
  answering(callID: string, active: boolean): void {
    const call = this.calls.get(callID);
    if (call) call.mainHere = active;
  }

  answered(callID: string, state: CallUserState.Accepted | CallUserState.Rejected): void {
    const call = this.calls.get(callID);
    if (!call) return;
    call.mainHere = true;
    call.surface = "card";
    this.setMember(call, this.me, state, "", null);
    if (state === CallUserState.Rejected) {
      call.closed = { reason: `You rejected ${call.caller}'s call`, tone: "muted" };
    }
    this.touch(call);
  }

  /** This device cancelled: every pending invitee is out, and so is the call. */
  cancelledHere(callID: string): void {
    const call = this.calls.get(callID);
    if (!call) return;
    for (const member of call.members.values()) {
      if (isPendingState(member.state)) member.state = CallUserState.Cancelled;
    }
    call.closed = { reason: "You cancelled the call", tone: "muted" };
    this.touch(call);
  }

  quitHere(callID: string): void {
    const call = this.calls.get(callID);
    if (!call) return;
    this.setMember(call, this.me, CallUserState.Quit, "", null);
    call.closed = { reason: "You left the call", tone: "muted" };
    this.touch(call);
  }

  /** General mode has no hang-up signal: the call's signaling was done at the answer. */
  hungUpHere(callID: string): void {
    const call = this.calls.get(callID);
    if (!call) return;
    call.closed = { reason: "You hung up", tone: "muted" };
    this.touch(call);
  }

  /** Members this device just invited with callingInvite ring from now on. */
  invitedHere(callID: string, userIDs: readonly string[]): void {
    const call = this.calls.get(callID);
    if (!call) return;
    for (const userID of userIDs) {
      const known = call.members.get(userID);
      if (!isPendingState(known?.state))
        this.setMember(call, userID, CallUserState.Inviting, "", null);
    }
    this.touch(call);
  }

  joined(
    callID: string,
    info: { caller: string; extendedData: string; timeout: number; createTime: number },
    callUserList: readonly CallUserInfo[],
  ): CallRecord {
    const call = this.upsert(callID, CallInvitationMode.Advanced, info.caller, info.caller);
    call.extendedData = info.extendedData;
    call.timeout = info.timeout;
    call.createTime = info.createTime;
    call.closed = null;
    call.surface = "card";
    call.mainHere = true;
    this.applyMembers(call, callUserList, null);
    this.setMember(call, this.me, CallUserState.Accepted, "", null);
    return call;
  }

  // ── Internals ─────────────────────────────────────────────────────────────────────────────

  private upsert(
    callID: string,
    mode: CallInvitationMode,
    caller: string,
    inviter: string,
  ): CallRecord {
    let call = this.calls.get(callID);
    if (!call) {
      call = {
        callID,
        mode,
        caller,
        inviter,
        extendedData: "",
        timeout: 0,
        createTime: Date.now(),
        members: new Map(),
        closed: null,
        surface: "card",
        mainHere: false,
        touched: 0,
      };
      this.calls.set(callID, call);
    }
    call.mode = mode;
    call.caller = caller;
    call.inviter = inviter;
    this.touch(call);
    return call;
  }

  private applyMembers(
    call: CallRecord,
    users: readonly CallUserInfo[],
    pendingDeadline: number | null,
  ): void {
    for (const user of users) {
      this.setMember(call, user.userID, user.state, user.extendedData, pendingDeadline);
    }
  }

  private setMember(
    call: CallRecord,
    userID: string,
    state: CallUserState,
    extendedData: string,
    deadline: number | null,
  ): void {
    const known = call.members.get(userID);
    let due = known?.deadline ?? null;
    if (deadline !== null) due = deadline;
    // Newly ringing (first seen, or invited again): its own timeout starts about now.
    else if (isPendingState(state) && !isPendingState(known?.state) && call.timeout > 0) {
      due = Date.now() + call.timeout * 1000;
    }
    call.members.set(userID, {
      userID,
      state,
      extendedData: extendedData || known?.extendedData || "",
      deadline: due,
    });
  }

  private touch(call: CallRecord): void {
    call.touched = ++clock;
  }
}
