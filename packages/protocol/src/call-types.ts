// The call data that crosses the wire: result and event payloads under their ZIM shapes.
import type { CallInvitationMode, CallState, CallUserState, CXHandleType } from "./enums.js";

/** ZIM's `ZIMVoIPConfig`: how iOS CallKit shows the call a VoIP push announces. */
export interface VoIPConfig {
  /** ZIM's `ZIMCXHandleType`: 1 generic, 2 phone number, 3 email address. */
  iOSVoIPHandleType?: CXHandleType;
  /** The caller as CallKit shows it, in the form the handle type says. */
  iOSVoIPHandleValue?: string;
  iOSVoIPHasVideo?: boolean;
}

/**
 * ZIM's `ZIMPushConfig` as far as a call push uses it. With `voIPConfig`, an invitation reaches
 * an iOS device registered with a PushKit token as a VoIP push (docs/push.md).
 */
export interface PushConfig {
  title: string;
  content: string;
  payload: string;
  resourcesID?: string;
  enableBadge?: boolean;
  badgeIncrement?: number;
  voIPConfig?: VoIPConfig;
}

export interface CallUserInfo {
  userID: string;
  state: CallUserState;
  extendedData: string;
}

export interface ErrorUserInfo {
  userID: string;
  /** Why the user could not be invited: one of the codes of SPEC §7. */
  reason: number;
}

export interface CallInfo {
  callID: string;
  caller: string;
  inviter: string;
  createTime: number;
  endTime: number;
  state: CallState;
  mode: CallInvitationMode;
  extendedData: string;
  callUserList: CallUserInfo[];
}

export interface CallInviteConfig {
  timeout?: number;
  mode?: CallInvitationMode;
  extendedData?: string;
  enableNotReceivedCheck?: boolean;
  pushConfig?: PushConfig;
}

export interface CallInvitationSentResult {
  callID: string;
  timeout: number;
  errorUserList: ErrorUserInfo[];
}

export interface CallCancelConfig {
  extendedData?: string;
  pushConfig?: PushConfig;
}

export interface CallCancelSentResult {
  callID: string;
  errorInvitees: string[];
}

export interface CallAcceptConfig {
  extendedData?: string;
}

export interface CallAcceptanceSentResult {
  callID: string;
}

export interface CallRejectConfig {
  extendedData?: string;
}

export interface CallRejectionSentResult {
  callID: string;
}

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

export interface CallInvitationQueryConfig {
  count: number;
  nextFlag?: number;
}

export interface CallInvitationListQueriedResult {
  callList: CallInfo[];
  nextFlag: number;
}

// Server events. Every one carries the callID it is about.

export interface CallInvitationCreatedEvent {
  callID: string;
  mode: CallInvitationMode;
  caller: string;
  extendedData: string;
  timeout: number;
  createTime: number;
  callUserList: CallUserInfo[];
}

export interface CallInvitationReceivedEvent {
  callID: string;
  mode: CallInvitationMode;
  caller: string;
  inviter: string;
  extendedData: string;
  timeout: number;
  createTime: number;
  callUserList: CallUserInfo[];
  /** Epoch ms when this invitation times out; an addition to ZIM for cold-started apps. */
  deadline: number;
}

export interface CallInvitationCancelledEvent {
  callID: string;
  mode: CallInvitationMode;
  inviter: string;
  extendedData: string;
}

export interface CallInvitationTimeoutEvent {
  callID: string;
  mode: CallInvitationMode;
}

export interface CallInvitationEndedEvent {
  callID: string;
  mode: CallInvitationMode;
  caller: string;
  operatedUserID: string;
  extendedData: string;
  endTime: number;
}

export interface CallUserStateChangedEvent {
  callID: string;
  callUserList: CallUserInfo[];
}

/** The call events a server sends, by name. */
export interface CallEventMap {
  callInvitationCreated: CallInvitationCreatedEvent;
  callInvitationReceived: CallInvitationReceivedEvent;
  callInvitationCancelled: CallInvitationCancelledEvent;
  callInvitationTimeout: CallInvitationTimeoutEvent;
  callInvitationEnded: CallInvitationEndedEvent;
  callUserStateChanged: CallUserStateChangedEvent;
}

export type CallEventName = keyof CallEventMap;

/** Every call event name, for code that must handle or forward all of them. */
export const callEventNames = [
  "callInvitationCreated",
  "callInvitationReceived",
  "callInvitationCancelled",
  "callInvitationTimeout",
  "callInvitationEnded",
  "callUserStateChanged",
] as const satisfies readonly CallEventName[];

export type CallEvent = {
  [K in CallEventName]: { name: K; data: CallEventMap[K] };
}[CallEventName];
