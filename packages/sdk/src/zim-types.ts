// ZIM's names for Beckon's enums and call-API types, so code written against ZIM's
// call-invitation API compiles with only its import changed (SPEC §9).
import type { BeckonErrorInfo } from "@beckon/protocol";
import type { LoginConfig, TokenRenewedResult } from "./beckon-client.js";
import type {
  ConnectionStateChangedEvent,
  EventListeners,
  TokenWillExpireEvent,
} from "./client-events.js";
import type { ZIM } from "./zim.js";

export type {
  CallAcceptanceSentResult as ZIMCallAcceptanceSentResult,
  CallAcceptConfig as ZIMCallAcceptConfig,
  CallCancelConfig as ZIMCallCancelConfig,
  CallCancelSentResult as ZIMCallCancelSentResult,
  CallEndConfig as ZIMCallEndConfig,
  CallEndSentResult as ZIMCallEndSentResult,
  CallInfo as ZIMCallInfo,
  CallInvitationCancelledEvent as ZIMEventOfCallInvitationCancelledResult,
  CallInvitationCreatedEvent as ZIMEventOfCallInvitationCreatedResult,
  CallInvitationEndedEvent as ZIMEventOfCallInvitationEndedResult,
  CallInvitationListQueriedResult as ZIMCallInvitationListQueriedResult,
  CallInvitationQueryConfig as ZIMCallInvitationQueryConfig,
  CallInvitationReceivedEvent as ZIMEventOfCallInvitationReceivedResult,
  CallInvitationSentResult as ZIMCallInvitationSentResult,
  CallInvitationTimeoutEvent as ZIMEventOfCallInvitationTimeoutResult,
  CallInviteConfig as ZIMCallInviteConfig,
  CallingInvitationSentResult as ZIMCallingInvitationSentResult,
  CallingInviteConfig as ZIMCallingInviteConfig,
  CallJoinConfig as ZIMCallJoinConfig,
  CallJoinSentResult as ZIMCallJoinSentResult,
  CallQuitConfig as ZIMCallQuitConfig,
  CallQuitSentResult as ZIMCallQuitSentResult,
  CallRejectConfig as ZIMCallRejectConfig,
  CallRejectionSentResult as ZIMCallRejectionSentResult,
  CallUserInfo as ZIMCallUserInfo,
  CallUserStateChangedEvent as ZIMEventOfCallUserStateChangedResult,
  ErrorUserInfo as ZIMErrorUserInfo,
  PushConfig as ZIMPushConfig,
} from "@beckon/protocol";
export {
  CallInvitationMode as ZIMCallInvitationMode,
  CallState as ZIMCallState,
  CallUserState as ZIMCallUserState,
  ConnectionEvent as ZIMConnectionEvent,
  ConnectionState as ZIMConnectionState,
  ErrorCode as ZIMErrorCode,
} from "@beckon/protocol";

/** What every failed call rejects with (a BeckonError, which also carries a stack). */
export type ZIMError = BeckonErrorInfo;
export type ZIMLoginConfig = LoginConfig;
export type ZIMTokenRenewedResult = TokenRenewedResult;
export type ZIMEventOfConnectionStateChangedResult = ConnectionStateChangedEvent;
export type ZIMEventOfTokenWillExpireResult = TokenWillExpireEvent;

/** Listener type per event name, as in ZIM: `zim.on('callInvitationReceived', (zim, data) => …)`. */
export type ZIMEventHandler = EventListeners<ZIM>;
