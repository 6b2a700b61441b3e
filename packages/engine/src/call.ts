// The stored shape of a call and its members: everything the engine needs to decide, nothing else.
import type { CallInvitationMode, CallState, CallUserState, PushConfig } from "@beckon/protocol";

export interface Member {
  userID: string;
  state: CallUserState;
  /** Who invited this member (the caller for the first invitees). */
  inviter: string;
  /** What the member passed when it last accepted, rejected or quit. */
  extendedData: string;
  inviteTime: number;
  /** Epoch ms at which a pending member times out; 0 when it has none. */
  deadline: number;
  acceptTime: number;
  quitTime: number;
  /** The device acting for this member in this call; null while every device rings. */
  mainDevice: string | null;
  /** Whether an offline push of the invitation went out, so cancel/end can push too. */
  pushed: boolean;
  /**
   * When the last device of an Accepted member went away (epoch ms); absent while one is
   * connected. Past the grace period the member is quit (SPEC §5 "Members who vanish").
   */
  awayAt?: number;
}

export interface Call {
  callID: string;
  mode: CallInvitationMode;
  caller: string;
  createTime: number;
  endTime: number;
  state: CallState;
  /** Seconds each invitee has to answer. */
  timeout: number;
  extendedData: string;
  enableNotReceivedCheck: boolean;
  pushConfig: PushConfig | null;
  /** When set, the call is cancelled at this time unless the caller's device comes back. */
  callerLostAt: number;
  /** Bumped by every change; stores use it as a compare-and-set guard. */
  version: number;
  members: Member[];
}

export interface EngineSettings {
  /** Delay after an invite before a still-Inviting member becomes NotYetReceived (3–5 s). */
  notReceivedCheckMs: number;
  /** How long a caller's lost device may stay away before its unanswered call is cancelled. */
  callerGraceMs: number;
  maxExtendedDataBytes: number;
  /** How long an Accepted member may have no device connected before it is quit. */
  memberGraceMs: number;
}

export const defaultEngineSettings: EngineSettings = {
  notReceivedCheckMs: 5_000,
  callerGraceMs: 30_000,
  maxExtendedDataBytes: 2_048,
  memberGraceMs: 90_000,
};

export function findMember(call: Call, userID: string): Member | undefined {
  return call.members.find((member) => member.userID === userID);
}
