// The timers a call needs, derived from its state alone, so stores can index them and a restart
// re-arms exactly what is due. A timer that fires late or twice is a no-op in the engine.
import { CallState, CallUserState, isPending } from "@beckon/protocol";
import type { Call, EngineSettings } from "./call.js";
import type { Timer } from "./commands.js";

export function timersOf(call: Call, settings: EngineSettings): Timer[] {
  if (call.state !== CallState.Started) return [];
  const timers: Timer[] = [];
  for (const member of call.members) {
    if (member.state === CallUserState.Accepted && member.awayAt) {
      timers.push({
        kind: "vanished",
        userID: member.userID,
        at: member.awayAt + settings.memberGraceMs,
      });
    }
    if (!isPending(member.state)) continue;
    timers.push({ kind: "deadline", userID: member.userID, at: member.deadline });
    if (call.enableNotReceivedCheck && member.state === CallUserState.Inviting) {
      timers.push({
        kind: "notReceived",
        userID: member.userID,
        at: member.inviteTime + settings.notReceivedCheckMs,
      });
    }
  }
  if (call.callerLostAt !== 0) {
    timers.push({ kind: "callerLost", userID: call.caller, at: call.callerLostAt });
  }
  return timers;
}
