// What a closed socket or a failed login means to the client: an error to reject with, the
// ConnectionEvent the app is told, and whether reconnecting could help.
import {
  BeckonError,
  type BeckonErrorInfo,
  CloseCode,
  ConnectionEvent,
  ErrorCode,
} from "@beckon/protocol";
import { connectionLost, SessionClosedError, TimeoutError } from "./client-errors.js";

/** Close codes after which reconnecting would only be refused again. */
const finalCloseCodes = new Map<number, { event: ConnectionEvent; code: ErrorCode }>([
  [CloseCode.KickedOut, { event: ConnectionEvent.KickedOut, code: ErrorCode.UserIsNotLogged }],
  [CloseCode.TokenExpired, { event: ConnectionEvent.TokenExpired, code: ErrorCode.TokenExpired }],
  // The server ended this device's session (e.g. through its API): to the app that is a kick.
  [CloseCode.LoggedOut, { event: ConnectionEvent.KickedOut, code: ErrorCode.UserIsNotLogged }],
  [
    CloseCode.ProtocolError,
    { event: ConnectionEvent.LoginInterrupted, code: ErrorCode.ParamsInvalid },
  ],
]);

const retriableCodes: ReadonlySet<number> = new Set([
  ErrorCode.NetworkError,
  ErrorCode.ServerError,
  ErrorCode.ServerFrequencyLimit,
  ErrorCode.ServiceUnavailable,
  ErrorCode.ServerBusy,
]);

/** The extendedData of a state change caused by `error`. */
export function errorDetails(error: BeckonErrorInfo): string {
  return JSON.stringify({ code: error.code, message: error.message });
}

export function closeError(code: number, reason: string): BeckonError {
  const final = finalCloseCodes.get(code);
  const text = `the server closed the connection (${code}${reason ? `: ${reason}` : ""})`;
  return final ? new SessionClosedError(final.code, text, final.event) : connectionLost(text);
}

export function loginFailureEvent(error: BeckonError): ConnectionEvent {
  if (error instanceof SessionClosedError) return error.event;
  if (error.code === ErrorCode.TokenInvalid || error.code === ErrorCode.TokenExpired) {
    return ConnectionEvent.TokenExpired;
  }
  if (error instanceof TimeoutError) return ConnectionEvent.LoginTimeout;
  return ConnectionEvent.LoginInterrupted;
}

export function isRetriable(error: BeckonError): boolean {
  return !(error instanceof SessionClosedError) && retriableCodes.has(error.code);
}

export function loginAborted(): BeckonError {
  return new BeckonError(ErrorCode.NetworkError, "login was aborted by logout() or destroy()");
}
