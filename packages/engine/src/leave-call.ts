// How a member leaves a running call when nobody is there to press a button (a user removed by
// the app's backend, an app leaving on a user's behalf): the one command among cancel, reject and
// quit that the permission table lets them take now.
import { CallInvitationMode, CallState, CallUserState, isPending } from "@beckon/protocol";
import type { Call } from "./call.js";
import { findMember } from "./call.js";
import type { Actor, CallCommand } from "./commands.js";

/**
 * The command that takes `actor.userID` out of `call`, or null when there is nothing to leave
 * (not a member, the call ended, already out, or an Accepted member of a basic call, who has no
 * way out but the call's end).
 */
export function leaveCommand(call: Call, actor: Actor, extendedData = ""): CallCommand | null {
  const member = findMember(call, actor.userID);
  if (!member || call.state !== CallState.Started) return null;
  const someoneElseAccepted = call.members.some(
    (other) => other.userID !== actor.userID && other.acceptTime > 0,
  );
  // A caller nobody answered yet takes the invitations back, as callCancel would.
  if (call.caller === actor.userID && !someoneElseAccepted) {
    return { type: "cancel", actor, invitees: [], extendedData };
  }
  if (isPending(member.state)) return { type: "reject", actor, extendedData };
  if (call.mode === CallInvitationMode.Advanced && member.state === CallUserState.Accepted) {
    return { type: "quit", actor, extendedData };
  }
  return null;
}
