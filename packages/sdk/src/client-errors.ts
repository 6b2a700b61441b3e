// Errors the SDK raises itself (no server involved). The subclasses carry what the connection
// logic needs to pick a ConnectionEvent; to apps they are plain BeckonErrors with a code.
import { BeckonError, type ConnectionEvent, ErrorCode } from "@beckon/protocol";

/** No reply (or no open socket) within the allowed time. */
export class TimeoutError extends BeckonError {
  constructor(message: string) {
    super(ErrorCode.NetworkError, message);
  }
}

/** The server closed the session for good (a CloseCode or a `kicked` frame): never retried. */
export class SessionClosedError extends BeckonError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly event: ConnectionEvent,
  ) {
    super(code, message);
  }
}

export function notLoggedIn(): BeckonError {
  return new BeckonError(ErrorCode.UserIsNotLogged, "not logged in; call login() first");
}

export function connectionLost(message = "the connection was lost before the reply"): BeckonError {
  return new BeckonError(ErrorCode.NetworkError, message);
}

export function invalidParams(message: string): BeckonError {
  return new BeckonError(ErrorCode.ParamsInvalid, message);
}

/** Normalises whatever a promise rejected with into a BeckonError. */
export function asBeckonError(error: unknown): BeckonError {
  if (error instanceof BeckonError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new BeckonError(ErrorCode.NetworkError, message);
}
