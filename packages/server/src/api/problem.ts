// RFC 9457 problem details carrying the SDK's error codes (SPEC §7), so an app backend handles
// the same codes as its clients.
import { ErrorCode } from "@beckon/protocol";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The SPEC §7 code, as the SDK reports it. */
  code: number;
}

/** A refusal of the API itself (authentication, scope, unknown resource). */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const statusOfCode: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.ParamsInvalid]: 400,
  [ErrorCode.ServerFrequencyLimit]: 429,
  [ErrorCode.ServerBusy]: 503,
  [ErrorCode.TokenInvalid]: 401,
  [ErrorCode.TokenExpired]: 401,
  [ErrorCode.UserIsNotLogged]: 401,
  [ErrorCode.CallDoesNotExist]: 404,
  [ErrorCode.CallInviteUserDoesNotExist]: 422,
  [ErrorCode.CallLimitExceeded]: 422,
  [ErrorCode.CallCommonError]: 409,
  [ErrorCode.CallCancelError]: 409,
  [ErrorCode.CallIsNotInviter]: 403,
  [ErrorCode.CallIsNotInvitee]: 403,
  [ErrorCode.CallUserAlreadyInTheCall]: 409,
  [ErrorCode.CallModeMismatch]: 409,
  [ErrorCode.ServiceUnavailable]: 503,
};

export function statusOf(code: ErrorCode): number {
  return statusOfCode[code] ?? 500;
}

/** Each code's first name: the enum also holds ZIM's alias names for some codes. */
const nameOfCode = new Map<number, string>();
for (const [name, value] of Object.entries(ErrorCode)) {
  if (typeof value === "number" && !nameOfCode.has(value)) nameOfCode.set(value, name);
}

export function problem(status: number, code: ErrorCode, detail: string): Problem {
  const name = nameOfCode.get(code) ?? "ServerError";
  return { type: `urn:beckon:error:${name}`, title: name, status, detail, code };
}
