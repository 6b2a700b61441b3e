// The browser (and default) entry of @beckon/sdk: no Node-only imports here or below.

export type {
  BeckonErrorInfo,
  CallAcceptanceSentResult,
  CallAcceptConfig,
  CallCancelConfig,
  CallCancelSentResult,
  CallEndConfig,
  CallEndSentResult,
  CallEventMap,
  CallEventName,
  CallInfo,
  CallInvitationCancelledEvent,
  CallInvitationCreatedEvent,
  CallInvitationEndedEvent,
  CallInvitationListQueriedResult,
  CallInvitationQueryConfig,
  CallInvitationReceivedEvent,
  CallInvitationSentResult,
  CallInvitationTimeoutEvent,
  CallInviteConfig,
  CallingInvitationSentResult,
  CallingInviteConfig,
  CallJoinConfig,
  CallJoinSentResult,
  CallQuitConfig,
  CallQuitSentResult,
  CallRejectConfig,
  CallRejectionSentResult,
  CallTimelineAnswer,
  CallTimelineAnswerKind,
  CallTimelineDevice,
  CallTimelineEntry,
  CallTimelinePush,
  CallTimelinePushKind,
  CallTimelinePushStatus,
  CallTimelineResult,
  CallUserInfo,
  CallUserStateChangedEvent,
  ErrorUserInfo,
  PushConfig,
} from "@beckon/protocol";
export {
  BeckonError,
  CallInvitationMode,
  CallState,
  CallUserState,
  CloseCode,
  ConnectionEvent,
  ConnectionState,
  ErrorCode,
  isRetryableError,
  PROTOCOL_VERSION,
} from "@beckon/protocol";
export {
  BeckonClient,
  type BeckonClientEventHandler,
  type BeckonClientOptions,
  type LoginConfig,
  type TokenRenewedResult,
} from "./beckon-client.js";
export type {
  BeckonEventMap,
  BeckonEventName,
  BeckonListener,
  ConnectionStateChangedEvent,
  EventListeners,
  TokenWillExpireEvent,
} from "./client-events.js";
export { setDefaultWebSocket } from "./default-web-socket.js";
export {
  type MiniProgramCallbackError,
  type MiniProgramSocketAPI,
  type MiniProgramSocketTask,
  miniProgramWebSocket,
} from "./mini-program-socket.js";
export type {
  SocketCloseEventLike,
  SocketMessageEventLike,
  WebSocketConstructorLike,
  WebSocketLike,
} from "./web-socket-like.js";
export { ZIM } from "./zim.js";
export type { ZIMServerOptions, ZIMTokenHook } from "./zim-server-config.js";
export * from "./zim-types.js";

// React Native kits load ZIM's module and call `module.default.getInstance()`.
import { ZIM as DefaultZIM } from "./zim.js";
export default DefaultZIM;
