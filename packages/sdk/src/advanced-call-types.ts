// Configs, results and wire requests of the advanced-mode operations (callingInvite, callJoin,
// callQuit, callEnd), which the protocol package does not define yet; shapes follow SPEC §3.
import type { CallUserInfo, ErrorUserInfo, PushConfig } from "@beckon/protocol";

export interface CallingInviteConfig {
  pushConfig?: PushConfig;
}

export interface CallJoinConfig {
  extendedData?: string;
}

export interface CallQuitConfig {
  extendedData?: string;
  pushConfig?: PushConfig;
}

export interface CallEndConfig {
  extendedData?: string;
  pushConfig?: PushConfig;
}

export interface CallingInvitationSentResult {
  callID: string;
  errorUserList: ErrorUserInfo[];
}

export interface CallJoinSentResult {
  callID: string;
  createTime: number;
  joinTime: number;
  extendedData: string;
  callUserList: CallUserInfo[];
}

export interface CallQuitSentResult {
  callID: string;
  createTime: number;
  acceptTime: number;
  quitTime: number;
}

export interface CallEndSentResult {
  callID: string;
  createTime: number;
  acceptTime: number;
  endTime: number;
}

/** Request data of the four operations, one shape for all of them. */
export interface AdvancedCallRequest {
  callID: string;
  invitees?: string[];
  extendedData?: string;
  pushConfig?: PushConfig;
}

export interface AdvancedOperationMap {
  callingInvite: { request: AdvancedCallRequest; result: CallingInvitationSentResult };
  callJoin: { request: AdvancedCallRequest; result: CallJoinSentResult };
  callQuit: { request: AdvancedCallRequest; result: CallQuitSentResult };
  callEnd: { request: AdvancedCallRequest; result: CallEndSentResult };
}
