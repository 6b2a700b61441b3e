// What a decision means for the outside world (webhooks, push, metrics, timelines): derived
// from the call before and after, so no command can forget to report what it changed.
import {
  type CallInvitationMode,
  CallState,
  CallUserState,
  isPending,
  type PushConfig,
} from "@beckon/protocol";
import type { Call, Member } from "./call.js";
import type { Actor, Timer } from "./commands.js";

export type MemberFactKind =
  | "member.invited"
  | "member.received"
  | "member.notYetReceived"
  | "member.accepted"
  | "member.rejected"
  | "member.cancelled"
  | "member.timedOut"
  | "member.joined"
  | "member.quit";

export type Fact =
  | {
      kind: "call.created";
      callID: string;
      mode: CallInvitationMode;
      caller: string;
      /** The device that created the call. */
      by: Actor;
      at: number;
    }
  | {
      kind: MemberFactKind;
      callID: string;
      userID: string;
      /** The state the member is now in (BeCancelled and Cancelled both report "cancelled"). */
      state: CallUserState;
      /** Who caused it; absent when a timer did. */
      by?: Actor;
      /** Who invited the member, for "member.invited". */
      inviter?: string;
      extendedData?: string;
      /** The pushConfig of the command (callingInvite, cancel, quit) for offline push. */
      pushConfig?: PushConfig;
      at: number;
    }
  | {
      kind: "call.ended";
      callID: string;
      mode: CallInvitationMode;
      /** Who ended it; absent when it ended by itself. */
      by?: Actor;
      /** The pushConfig of the command that ended it (end, cancel, quit) for offline push. */
      pushConfig?: PushConfig;
      at: number;
    };

export type FactKind = Fact["kind"];

export const factKinds: readonly FactKind[] = [
  "call.created",
  "member.invited",
  "member.received",
  "member.notYetReceived",
  "member.accepted",
  "member.rejected",
  "member.cancelled",
  "member.timedOut",
  "member.joined",
  "member.quit",
  "call.ended",
];

function memberFactKind(before: Member | undefined, after: Member): MemberFactKind | null {
  if (before === undefined || (!isPending(before.state) && isPending(after.state))) {
    // A re-invited member of an advanced call is invited again.
    return isPending(after.state) ? "member.invited" : null;
  }
  if (before.state === after.state) return null;
  switch (after.state) {
    case CallUserState.Received:
      return "member.received";
    case CallUserState.NotYetReceived:
      return "member.notYetReceived";
    case CallUserState.Accepted:
      return isPending(before.state) ? "member.accepted" : "member.joined";
    case CallUserState.Rejected:
      return "member.rejected";
    case CallUserState.Cancelled:
    case CallUserState.BeCancelled:
      return "member.cancelled";
    case CallUserState.Timeout:
      return "member.timedOut";
    case CallUserState.Quit:
      return "member.quit";
    default:
      return null;
  }
}

/**
 * The facts between two versions of a call (`before` null for a new call), in a stable order:
 * creation, then members in call order, then the end.
 */
export function factsBetween(
  before: Call | null,
  after: Call,
  by: Actor | undefined,
  at: number,
): Fact[] {
  const facts: Fact[] = [];
  const { callID } = after;
  if (before === null) {
    facts.push({
      kind: "call.created",
      callID,
      mode: after.mode,
      caller: after.caller,
      by: by ?? { userID: after.caller, deviceID: "" },
      at,
    });
  }
  const previous = new Map(before?.members.map((member) => [member.userID, member]));
  for (const member of after.members) {
    if (before === null && member.userID === after.caller) continue;
    const kind = memberFactKind(previous.get(member.userID), member);
    if (kind === null) continue;
    const acting = by !== undefined && by.userID === member.userID;
    facts.push({
      kind,
      callID,
      userID: member.userID,
      state: member.state,
      ...(by ? { by } : {}),
      ...(kind === "member.invited" ? { inviter: member.inviter } : {}),
      ...(acting && kind !== "member.invited" && kind !== "member.received"
        ? { extendedData: member.extendedData }
        : {}),
      at,
    });
  }
  if (after.state === CallState.Ended && before?.state !== CallState.Ended) {
    facts.push({ kind: "call.ended", callID, mode: after.mode, ...(by ? { by } : {}), at });
  }
  return facts;
}

/** A timer's identity within its call. */
export function timerKey(timer: Timer): string {
  return `${timer.kind}\u0000${timer.userID}`;
}

export interface TimerDiff {
  /** Timers to add or move (same kind and user, new time). */
  set: Timer[];
  /** Timers to drop. */
  clear: Timer[];
}

/** What a store must change to go from one call's timers to the next's. */
export function diffTimers(before: readonly Timer[], after: readonly Timer[]): TimerDiff {
  const old = new Map(before.map((timer) => [timerKey(timer), timer]));
  const set: Timer[] = [];
  for (const timer of after) {
    const key = timerKey(timer);
    if (old.get(key)?.at !== timer.at) set.push(timer);
    old.delete(key);
  }
  return { set, clear: [...old.values()] };
}
