// The numeric enums of SPEC §2. Their values are part of the wire protocol and the public API.

export enum CallInvitationMode {
  Unknown = -1,
  General = 0,
  Advanced = 1,
}

export enum CallState {
  Unknown = -1,
  Started = 1,
  Ended = 2,
}

export enum CallUserState {
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

export enum ConnectionState {
  Disconnected = 0,
  Connecting = 1,
  Connected = 2,
  Reconnecting = 3,
}

export enum ConnectionEvent {
  Success = 0,
  ActiveLogin = 1,
  LoginTimeout = 2,
  LoginInterrupted = 3,
  KickedOut = 4,
  TokenExpired = 5,
  Unregistered = 6,
}

const pendingStates: ReadonlySet<CallUserState> = new Set([
  CallUserState.Inviting,
  CallUserState.NotYetReceived,
  CallUserState.Received,
]);

/** Pending: the invitee has not answered yet (SPEC §2). */
export function isPending(state: CallUserState): boolean {
  return pendingStates.has(state);
}

/** Active: pending or in the call. */
export function isActive(state: CallUserState): boolean {
  return state === CallUserState.Accepted || pendingStates.has(state);
}

/** Terminal: the member is out of the call for good (until invited again in advanced mode). */
export function isTerminal(state: CallUserState): boolean {
  return !isActive(state);
}
