// Error codes of SPEC §7 (ZIM's numbers) and the error value every layer passes around.

export enum ErrorCode {
  Success = 0,
  /** Not in SPEC §7: an unexpected server-side failure, reported instead of a hang. */
  ServerError = 6000000,
  ParamsInvalid = 6000001,
  ServerFrequencyLimit = 6000005,
  TokenInvalid = 6000103,
  TokenExpired = 6000106,
  UserIsNotLogged = 6000121,
  /** Not in SPEC §7: the request could not reach the server (SDK side only). */
  NetworkError = 6000002,
  CallCommonError = 6000270,
  CallCancelError = 6000271,
  CallLimitExceeded = 6000272,
  CallIsNotInviter = 6000273,
  CallIsNotInvitee = 6000274,
  CallDoesNotExist = 6000276,
  CallInviteUserDoesNotExist = 6000281,
  CallUserAlreadyInTheCall = 6000283,
  CallModeMismatch = 6000286,
}

export interface BeckonErrorInfo {
  code: ErrorCode;
  message: string;
}

/** An error with a SPEC §7 code; what every failed operation rejects with. */
export class BeckonError extends Error implements BeckonErrorInfo {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "BeckonError";
    this.code = code;
  }

  toJSON(): BeckonErrorInfo {
    return { code: this.code, message: this.message };
  }
}
