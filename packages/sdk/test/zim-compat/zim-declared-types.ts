// Compile-time checks (run by `npm run typecheck`) that Beckon's ZIM fits ZIM's own declarations
// from `zego-zim-web`: the instance where ZIM's call-invitation API is expected, enum values and
// call records in both directions, and `on` typed per event.
import {
  ZIMCallInvitationMode as BeckonCallInvitationMode,
  ZIMCallState as BeckonCallState,
  ZIMCallUserState as BeckonCallUserState,
  ZIMConnectionEvent as BeckonConnectionEvent,
  ZIMConnectionState as BeckonConnectionState,
  type ZIM,
  type ZIMCallInfo,
  type ZIMCallUserInfo as ZIMCallUserInfoOfBeckon,
  ZIMCXHandleType,
  type ZIMEventHandler,
  type ZIMEventOfCallInvitationReceivedResult,
  type ZIMPushConfig,
  type ZIMSDK,
  type ZIMVoIPConfig,
} from "@beckon/sdk";
import type {
  ZIMCallInvitationMode,
  ZIMCallState,
  ZIMCallUserInfo,
  ZIMCallUserState,
  ZIMConnectionEvent,
  ZIMConnectionState,
  ZIM as ZIMDeclared,
  ZIMCallInfo as ZIMDeclaredCallInfo,
  ZIMPushConfig as ZIMDeclaredPushConfig,
  ZIMEventOfCallInvitationReceivedResult as ZIMDeclaredReceived,
} from "zego-zim-web";

type CallInvitationAPI = Pick<
  ZIMDeclared,
  | "callInvite"
  | "callCancel"
  | "callAccept"
  | "callReject"
  | "callingInvite"
  | "callJoin"
  | "callQuit"
  | "callEnd"
  | "queryCallInvitationList"
  | "renewToken"
>;

/** A UI kit's plugin parameter, typed with ZIM's declarations, takes Beckon's instance. */
export function asDeclaredCallAPI(zim: ZIM): CallInvitationAPI {
  return zim;
}

export const enumsToZIM: [
  ZIMCallUserState,
  ZIMCallInvitationMode,
  ZIMCallState,
  ZIMConnectionState,
  ZIMConnectionEvent,
] = [
  BeckonCallUserState.BeCancelled,
  BeckonCallInvitationMode.Advanced,
  BeckonCallState.Ended,
  BeckonConnectionState.Reconnecting,
  BeckonConnectionEvent.KickedOut,
];

export function enumsFromZIM(
  state: ZIMCallUserState,
  mode: ZIMCallInvitationMode,
  callState: ZIMCallState,
  connection: ZIMConnectionState,
  event: ZIMConnectionEvent,
): [
  BeckonCallUserState,
  BeckonCallInvitationMode,
  BeckonCallState,
  BeckonConnectionState,
  BeckonConnectionEvent,
] {
  return [state, mode, callState, connection, event];
}

export function callInfoBothWays(
  beckon: ZIMCallInfo,
  declared: ZIMDeclaredCallInfo,
): [ZIMDeclaredCallInfo, ZIMCallInfo, ZIMCallUserInfo[], ZIMCallUserInfoOfBeckon[]] {
  return [beckon, declared, beckon.callUserList, declared.callUserList];
}

/** Beckon's events carry everything ZIM's listeners expect. */
export function receivedToZIM(event: ZIMEventOfCallInvitationReceivedResult): ZIMDeclaredReceived {
  return event;
}

export function listenersAreTypedPerEvent(zim: ZIM): void {
  zim.on("callUserStateChanged", (_zim, info) => {
    const states: BeckonCallUserState[] = info.callUserList.map((user) => user.state);
    void states;
  });
  zim.on("callInviteesAnsweredTimeout", (_zim, { invitees }) => {
    const ids: string[] = invitees;
    void ids;
  });
  // @ts-expect-error: callInvitationTimeout's data has no callUserList
  zim.on("callInvitationTimeout", (_zim, data) => data.callUserList);
  // @ts-expect-error: not an event name of ZIM's
  zim.on("callInvitationRinging", () => {});
}

/**
 * Kits bind listeners generically, as both ZEGO SDKs type `on`: `on<K extends keyof
 * ZIMEventHandler>(type: K, listener: ZIMEventHandler[K])`. A kit's helper over any event name,
 * and a table of handlers bound in a loop, compile against Beckon's instance (the mini-program
 * SDK's class name, ZIMSDK, included).
 */
export function bindGenerically<K extends keyof ZIMEventHandler>(
  zim: ZIMSDK,
  type: K,
  listener: ZIMEventHandler[K],
): () => void {
  zim.on(type, listener);
  return () => zim.off(type, listener);
}

export function bindTable(zim: ZIM, handlers: Partial<ZIMEventHandler>): void {
  for (const type of Object.keys(handlers) as (keyof ZIMEventHandler)[]) {
    const listener = handlers[type];
    if (listener) zim.on(type, listener);
  }
}

/** A ZIM invite config with iOS CallKit's VoIP settings, as ZIM's own type has them. */
export function invitesWithVoIP(zim: ZIM, declared: ZIMDeclaredPushConfig) {
  const pushConfig: ZIMPushConfig = {
    title: "Alice",
    content: "Incoming call",
    payload: "{}",
    voIPConfig: {
      iOSVoIPHandleType: ZIMCXHandleType.Generic,
      iOSVoIPHandleValue: "Alice",
      iOSVoIPHasVideo: true,
    },
  };
  const voip: ZIMVoIPConfig | undefined = declared.voIPConfig;
  void voip;
  return zim.callInvite(["bob"], { timeout: 30, pushConfig });
}
