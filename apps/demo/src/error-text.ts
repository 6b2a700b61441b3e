// Turns SDK errors (`{code, message}`) and per-invitee failures into sentences a person can act
// on, keeping the code visible so the page doubles as a bug finder.
import { ErrorCode, type ErrorUserInfo } from "@beckon/sdk";

const hints: Partial<Record<ErrorCode, string>> = {
  [ErrorCode.ParamsInvalid]: "The request was not valid",
  [ErrorCode.ServerFrequencyLimit]: "Too many requests: slow down a little",
  [ErrorCode.TokenInvalid]: "The token was refused (wrong signature, wrong user or malformed)",
  [ErrorCode.TokenExpired]: "The token has expired",
  [ErrorCode.UserIsNotLogged]: "You are not signed in",
  [ErrorCode.NetworkError]: "The server could not be reached",
  [ErrorCode.ServerError]: "The server failed unexpectedly",
  [ErrorCode.CallCommonError]: "Not allowed in the call's current state",
  [ErrorCode.CallCancelError]: "Too late to cancel: someone answered or the call is over",
  [ErrorCode.CallLimitExceeded]: "Too many people: a call holds at most 10 active members",
  [ErrorCode.CallIsNotInviter]: "Only the caller can cancel this call",
  [ErrorCode.CallIsNotInvitee]: "You are not invited to this call",
  [ErrorCode.CallDoesNotExist]: "This call does not exist (any more)",
  [ErrorCode.CallInviteUserDoesNotExist]:
    "Unknown user: a user must sign in once before they can be called",
  [ErrorCode.CallUserAlreadyInTheCall]: "You are already in this call on this device",
  [ErrorCode.CallModeMismatch]: "Only possible in an advanced-mode call",
};

interface ErrorLike {
  code?: unknown;
  message?: unknown;
}

/** "Could not call: Unknown user … (6000281: no invitee is a known user)". */
export function describeError(action: string, error: unknown): string {
  const { code, message } = (typeof error === "object" && error !== null ? error : {}) as ErrorLike;
  const detail = typeof message === "string" && message !== "" ? message : String(error);
  if (typeof code !== "number") return `${action}: ${detail}`;
  const hint = hints[code as ErrorCode];
  return hint ? `${action}: ${hint} (${code}: ${detail})` : `${action}: error ${code}: ${detail}`;
}

/** One line per invitee the server refused, e.g. "bob: Unknown user … (6000281)". */
export function describeErrorUsers(list: readonly ErrorUserInfo[]): string {
  return list
    .map(
      ({ userID, reason }) => `${userID}: ${hints[reason as ErrorCode] ?? "refused"} (${reason})`,
    )
    .join("; ");
}
