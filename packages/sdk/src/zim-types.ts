// ZIM's names for Beckon's enums and call-API types, so code written against ZIM's
// call-invitation API compiles with only its import changed (SPEC §9).
import type { BeckonErrorInfo } from "@beckon/protocol";
import type { TokenRenewedResult } from "./beckon-client.js";
import type { ConnectionStateChangedEvent, TokenWillExpireEvent } from "./client-events.js";

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
  VoIPConfig as ZIMVoIPConfig,
} from "@beckon/protocol";
export {
  ErrorCode as ZIMErrorCode,
  ZIMCallInvitationMode,
  ZIMCallState,
  ZIMCallUserState,
  ZIMConnectionEvent,
  ZIMConnectionState,
  ZIMCXHandleType,
} from "@beckon/protocol";
export type {
  ZIMAppConfig,
  ZIMCallInvitationSentResult,
  ZIMEventHandler,
  ZIMEventMap,
  ZIMLoginConfig,
  ZIMSDK,
  ZIMUserInfo,
} from "./zim.js";
export * from "./zim-im-enums.js";
export type {
  ZIMEventOfCallInvitationAcceptedResult,
  ZIMEventOfCallInvitationRejectedResult,
  ZIMEventOfCallInviteesAnsweredTimeoutResult,
} from "./zim-legacy-events.js";

/** What every failed call rejects with (a BeckonError, which also carries a stack). */
export type ZIMError = BeckonErrorInfo;
export type ZIMTokenRenewedResult = TokenRenewedResult;
export type ZIMEventOfConnectionStateChangedResult = ConnectionStateChangedEvent;
export type ZIMEventOfTokenWillExpireResult = TokenWillExpireEvent;
