// The numeric enums of SPEC §2. Their values are part of the wire protocol and the public API.
// Each is declared under ZIM's own name with exactly ZIM's members: TypeScript treats two enums
// as the same type when their names and members match, so values typed with these enums are
// assignable to and from ZIM's (`zego-zim-web`) typings. Beckon code uses the short aliases.

export enum ZIMCallInvitationMode {
  Unknown = -1,
  General = 0,
  Advanced = 1,
}

export enum ZIMCallState {
  Unknown = -1,
  Started = 1,
  Ended = 2,
}

export enum ZIMCallUserState {
  Unknown = -1,
  Inviting = 0,
  Accepted = 1,
  Rejected = 2,
  Cancelled = 3,
  /** Kept for ZIM compatibility; Beckon never sets it. */
  Offline = 4,
  Received = 5,
  Timeout = 6,
  Quit = 7,
  /** Kept for ZIM compatibility; Beckon never sets it. */
  Ended = 8,
  NotYetReceived = 9,
  BeCancelled = 10,
}

export enum ZIMConnectionState {
  Disconnected = 0,
  Connecting = 1,
  Connected = 2,
  Reconnecting = 3,
}

export enum ZIMConnectionEvent {
  Success = 0,
  ActiveLogin = 1,
  LoginTimeout = 2,
  LoginInterrupted = 3,
  KickedOut = 4,
  TokenExpired = 5,
  Unregistered = 6,
}

/** How CallKit shows a VoIP caller's handle (ZIM's `ZIMCXHandleType`). */
export enum ZIMCXHandleType {
  Generic = 1,
  PhoneNumber = 2,
  EmailAddress = 3,
}

export {
  ZIMCallInvitationMode as CallInvitationMode,
  ZIMCallState as CallState,
  ZIMCallUserState as CallUserState,
  ZIMConnectionEvent as ConnectionEvent,
  ZIMConnectionState as ConnectionState,
  ZIMCXHandleType as CXHandleType,
};

const pendingStates: ReadonlySet<ZIMCallUserState> = new Set([
  ZIMCallUserState.Inviting,
  ZIMCallUserState.NotYetReceived,
  ZIMCallUserState.Received,
]);

/** Pending: the invitee has not answered yet (SPEC §2). */
export function isPending(state: ZIMCallUserState): boolean {
  return pendingStates.has(state);
}

/** Active: pending or in the call. */
export function isActive(state: ZIMCallUserState): boolean {
  return state === ZIMCallUserState.Accepted || pendingStates.has(state);
}

/** Terminal: the member is out of the call for good (until invited again in advanced mode). */
export function isTerminal(state: ZIMCallUserState): boolean {
  return !isActive(state);
}
