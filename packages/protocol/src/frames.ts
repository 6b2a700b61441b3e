// Wire frames of protocol version 1: JSON text frames over one WebSocket (see docs/protocol.md).

import type { CallTimelineRequest, CallTimelineResult } from "./call-timeline.js";
import type {
  CallAcceptanceSentResult,
  CallCancelSentResult,
  CallEndSentResult,
  CallEventMap,
  CallEventName,
  CallInvitationListQueriedResult,
  CallInvitationSentResult,
  CallingInvitationSentResult,
  CallJoinSentResult,
  CallQuitSentResult,
  CallRejectionSentResult,
  PushConfig,
} from "./call-types.js";
import type { CallInvitationMode, ConnectionEvent } from "./enums.js";
import type { BeckonErrorInfo } from "./errors.js";

export interface LoginRequest {
  protocolVersion: number;
  userID: string;
  token: string;
  /** Chosen by the SDK once per instance; reconnects reuse it so the server knows the device. */
  deviceID: string;
  /** Present when the SDK resumes a session after a dropped socket. */
  resume?: { epoch: string; seq: number };
  /**
   * Calls the SDK still shows as ringing or running. If the server cannot resume the stream, it
   * sends, for each of these that is over for the user, the event that closed it.
   */
  openCalls?: string[];
}

export interface LoginResult {
  userID: string;
  deviceID: string;
  serverTime: number;
  tokenExpiresAt: number;
  heartbeatIntervalMs: number;
  /** The event stream of this device: a changed epoch means the SDK must resync. */
  epoch: string;
  /** True when the server replays what the device missed instead of sending a fresh picture. */
  resumed: boolean;
}

export interface CallInviteRequest {
  invitees: string[];
  timeout?: number;
  mode?: CallInvitationMode;
  extendedData?: string;
  enableNotReceivedCheck?: boolean;
  pushConfig?: PushConfig;
  /**
   * Chosen by the client per invitation (1–64 characters) and sent again on a retry: a retry
   * with the same key returns the first attempt's outcome instead of making a second call.
   */
  idempotencyKey?: string;
}

export interface CallCancelRequest {
  callID: string;
  invitees: string[];
  extendedData?: string;
  pushConfig?: PushConfig;
}

export interface CallAnswerRequest {
  callID: string;
  extendedData?: string;
}

export interface CallingInviteRequest {
  callID: string;
  invitees: string[];
  pushConfig?: PushConfig;
}

export interface CallLeaveRequest {
  callID: string;
  extendedData?: string;
  pushConfig?: PushConfig;
}

export interface CallAckRequest {
  callID: string;
}

export interface QueryCallListRequest {
  count: number;
  nextFlag?: number;
}

/** Each operation's request data and result data. */
export interface OperationMap {
  login: { request: LoginRequest; result: LoginResult };
  logout: { request: Record<string, never>; result: Record<string, never> };
  renewToken: { request: { token: string }; result: { tokenExpiresAt: number } };
  /** `ack`: the last event seq the device has, so the server may forget older ones. */
  ping: { request: { ack?: number }; result: { serverTime: number } };
  callInvite: { request: CallInviteRequest; result: CallInvitationSentResult };
  callCancel: { request: CallCancelRequest; result: CallCancelSentResult };
  callAccept: { request: CallAnswerRequest; result: CallAcceptanceSentResult };
  callReject: { request: CallAnswerRequest; result: CallRejectionSentResult };
  callAck: { request: CallAckRequest; result: Record<string, never> };
  callingInvite: { request: CallingInviteRequest; result: CallingInvitationSentResult };
  callJoin: { request: CallAnswerRequest; result: CallJoinSentResult };
  callQuit: { request: CallLeaveRequest; result: CallQuitSentResult };
  callEnd: { request: CallLeaveRequest; result: CallEndSentResult };
  queryCallInvitationList: {
    request: QueryCallListRequest;
    result: CallInvitationListQueriedResult;
  };
  /** A Beckon addition: the call's per-device delivery timeline, for a member of the call. */
  callTimeline: { request: CallTimelineRequest; result: CallTimelineResult };
}

export type OperationName = keyof OperationMap;

export interface RequestFrame<K extends OperationName = OperationName> {
  id: number;
  op: K;
  data: OperationMap[K]["request"];
}

export type ReplyFrame =
  | { id: number; ok: true; data: unknown }
  | { id: number | null; ok: false; error: BeckonErrorInfo };

/** A call event for this device; `seq` counts this device's call events, gapless per epoch. */
export type CallEventFrame = {
  [K in CallEventName]: { ev: K; seq: number; data: CallEventMap[K] };
}[CallEventName];

/** Session events are about the connection, not a call, and are never replayed. */
export type SessionEventFrame =
  | { ev: "tokenWillExpire"; data: { second: number } }
  | { ev: "kicked"; data: { event: ConnectionEvent; reason: string } };

export type ServerFrame = ReplyFrame | CallEventFrame | SessionEventFrame;

/** WebSocket close codes the server uses; the SDK does not reconnect after them. */
export const CloseCode = {
  KickedOut: 4001,
  TokenExpired: 4002,
  LoggedOut: 4003,
  ProtocolError: 4004,
} as const;
