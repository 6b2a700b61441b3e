// The Started calls, and which of them each user is active in (pending or Accepted) and in which
// Accepted: what the busy rule, the login picture and the active-calls gauge ask of one node's
// store. Kept in memory and rebuilt from the Started calls when the store opens, so a member's
// change writes only its call's row, not rows and indexes keyed by user.
import type { Call, Member } from "@beckon/engine";
import {
  type CallInvitationMode,
  CallState,
  CallUserState,
  isActive,
  isPending,
} from "@beckon/protocol";

/** -1 inactive, 0 active, 1 Accepted. */
type Standing = -1 | 0 | 1;

function standingOf(call: Call, member: Member): Standing {
  if (call.state !== CallState.Started || !isActive(member.state)) return -1;
  return member.state === CallUserState.Accepted ? 1 : 0;
}

export class ActiveMembers {
  /** userID -> callID -> Accepted there. */
  private readonly byUser = new Map<string, Map<string, boolean>>();
  /** Every Started call: its mode, its row's seq and whether someone is still pending in it. */
  private readonly started = new Map<
    string,
    { mode: CallInvitationMode; seq: number; ringing: boolean }
  >();

  /** Brings the index from `before` to `call` (stored as row `seq`); pushes its undo onto `undo`. */
  apply(before: Call | null, call: Call, seq: number, undo: Array<() => void>): void {
    const was = this.started.get(call.callID);
    if (call.state === CallState.Started) {
      const ringing = call.members.some((member) => isPending(member.state));
      if (was?.ringing !== ringing) {
        this.started.set(call.callID, { mode: call.mode, seq, ringing });
        undo.push(() =>
          was ? this.started.set(call.callID, was) : this.started.delete(call.callID),
        );
      }
    } else if (was) {
      this.started.delete(call.callID);
      undo.push(() => this.started.set(call.callID, was));
    }
    const previous = new Map(before?.members.map((member) => [member.userID, member]));
    for (const member of call.members) {
      const old = before ? previous.get(member.userID) : undefined;
      const then = before && old ? standingOf(before, old) : -1;
      const now = standingOf(call, member);
      if (then === now) continue;
      this.set(member.userID, call.callID, now);
      undo.push(() => this.set(member.userID, call.callID, then));
    }
  }

  /** Whether the user is Accepted in a Started call other than `callID`. */
  acceptedElsewhere(userID: string, callID: string): boolean {
    const calls = this.byUser.get(userID);
    if (!calls) return false;
    for (const [other, accepted] of calls) if (accepted && other !== callID) return true;
    return false;
  }

  /** How many calls are Started, as (mode, count) rows. */
  startedByMode(): Array<{ mode: number; count: number }> {
    const counts = new Map<number, number>();
    for (const { mode } of this.started.values()) counts.set(mode, (counts.get(mode) ?? 0) + 1);
    return [...counts].map(([mode, count]) => ({ mode, count }));
  }

  /** The Started calls someone is still pending in, newest first. */
  ringing(limit = Number.POSITIVE_INFINITY): string[] {
    return [...this.started]
      .filter(([, call]) => call.ringing)
      .sort(([, a], [, b]) => b.seq - a.seq)
      .slice(0, limit)
      .map(([callID]) => callID);
  }

  ringingCount(): number {
    let count = 0;
    for (const call of this.started.values()) if (call.ringing) count++;
    return count;
  }

  callsOf(userID: string): string[] {
    return [...(this.byUser.get(userID)?.keys() ?? [])];
  }

  private set(userID: string, callID: string, standing: Standing): void {
    let calls = this.byUser.get(userID);
    if (standing === -1) {
      calls?.delete(callID);
      if (calls?.size === 0) this.byUser.delete(userID);
      return;
    }
    if (!calls) {
      calls = new Map();
      this.byUser.set(userID, calls);
    }
    calls.set(callID, standing === 1);
  }
}
