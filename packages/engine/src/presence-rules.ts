// SPEC §5 "Members who vanish": an Accepted member with no device connected for the grace
// period is quit as if by callQuit, so no call stays Started with nobody in it.
import { CallState, CallUserState } from "@beckon/protocol";
import { type Call, type EngineSettings, findMember, type Member } from "./call.js";
import type { Decision } from "./decision.js";
import { Draft, type Empty, unchanged } from "./draft.js";

/** The `extendedData` of a quit the server decided: the member's devices all went away. */
export const VANISHED_EXTENDED_DATA = '{"reason":"disconnected"}';

function acceptedIn(call: Call, userID: string): Member | undefined {
  const member = findMember(call, userID);
  return call.state === CallState.Started && member?.state === CallUserState.Accepted
    ? member
    : undefined;
}

export function memberAway(call: Call, userID: string, now: number): Decision<Empty> {
  const member = acceptedIn(call, userID);
  if (!member || member.awayAt) return unchanged(call, {});
  const draft = new Draft(call, now);
  (findMember(draft.call, userID) as Member).awayAt = now;
  return draft.finish({});
}

export function memberBack(call: Call, userID: string, now: number): Decision<Empty> {
  if (!findMember(call, userID)?.awayAt) return unchanged(call, {});
  const draft = new Draft(call, now);
  delete (findMember(draft.call, userID) as Member).awayAt;
  return draft.finish({});
}

export function vanished(
  call: Call,
  userID: string,
  now: number,
  settings: EngineSettings,
): Decision<Empty> {
  const member = acceptedIn(call, userID);
  if (!member?.awayAt || member.awayAt + settings.memberGraceMs > now) {
    return unchanged(call, {});
  }
  const draft = new Draft(call, now);
  const quitting = findMember(draft.call, userID) as Member;
  quitting.quitTime = now;
  draft.setState(quitting, CallUserState.Quit, VANISHED_EXTENDED_DATA);
  return draft.finish({});
}
