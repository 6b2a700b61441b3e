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
  /**
   * Not in SPEC §7: the server cannot reach its database or Redis right now. The request may or
   * may not have taken effect; retry it (a `callInvite` with the same idempotency key returns
   * the first outcome). ZIM's number for a server error.
   */
  ServiceUnavailable = 6000102,
  /**
   * Not in SPEC §7: the node is past its load bound and refused a new invitation at once, doing
   * nothing (no call was made). Retry after a short, jittered wait, or on another node. Beckon's
   * own number in ZIM's common-module range, which ZIM leaves unused (it stops at 6000016).
   */
  ServerBusy = 6000020,
  CallCommonError = 6000270,
  CallCancelError = 6000271,
  CallLimitExceeded = 6000272,
  CallIsNotInviter = 6000273,
  CallIsNotInvitee = 6000274,
  CallDoesNotExist = 6000276,
  CallInviteUserDoesNotExist = 6000281,
  CallUserAlreadyInTheCall = 6000283,
  CallModeMismatch = 6000286,

  // ZIM's own names (zego-zim-web's ZIMErrorCode) for the codes above, so code that checks
  // `ZIMErrorCode.CallModuleCommonError` compiles and matches. Where ZIM's name means something
  // else in ZIM (6000002, 6000272, 6000286), the comment gives Beckon's meaning.
  CommonModuleParamsInvalid = ParamsInvalid,
  /** Beckon: a request without reply, or in flight when the socket dropped (ZIM: not initialized). */
  CommonModuleNotInit = NetworkError,
  CommonModuleTriggerServerFrequencyLimit = ServerFrequencyLimit,
  /** Beckon's own (ZIM has none): the node refused a new invitation under load; retry later. */
  CommonModuleServerBusy = ServerBusy,
  /** A ZIM feature Beckon does not implement (conversations, messages, rooms, groups, …). */
  CommonModuleUnsupportedRequest = 6000013,
  NetworkModuleCommonError = 6000101,
  NetworkModuleServerError = ServiceUnavailable,
  NetworkModuleTokenInvalid = TokenInvalid,
  NetworkModuleNetworkError = 6000104,
  NetworkModuleRequestTimeout = 6000105,
  NetworkModuleTokenExpired = TokenExpired,
  NetworkModuleTokenVersionError = 6000107,
  NetworkModuleTokenTimeIsTooShort = 6000108,
  NetworkModuleUserHasAlreadyLogged = 6000111,
  NetworkModuleUserIsNotLogged = UserIsNotLogged,
  NetworkModuleUserHasAlreadyLoggedOut = 6000122,
  NetworkModuleUserOffline = 6000123,
  CallModuleCommonError = CallCommonError,
  CallModuleCancelError = CallCancelError,
  /** Beckon: too many invitees or active members (ZIM: a call server error). */
  CallModuleServerError = CallLimitExceeded,
  CallModuleIsNotInvitor = CallIsNotInviter,
  CallModuleIsNotInvitee = CallIsNotInvitee,
  CallModuleAlreadyExists = 6000275,
  CallModuleDoesNotExist = CallDoesNotExist,
  CallModuleInviteUserDoesNotExist = CallInviteUserDoesNotExist,
  CallModuleUserAlreadyInTheCall = CallUserAlreadyInTheCall,
  /** Beckon: an advanced-mode operation on a general call (ZIM: a message edit time limit). */
  MessageModuleMessageExceedsEditTime = CallModeMismatch,
}

/** Codes that mean "nothing was done; the same request may succeed if sent again later". */
export const retryableErrorCodes: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.ServerBusy,
  ErrorCode.ServerFrequencyLimit,
]);

/** Whether an error (or its code) says the request may simply be sent again later. */
export function isRetryableError(error: { code: number } | number): boolean {
  return retryableErrorCodes.has((typeof error === "number" ? error : error.code) as ErrorCode);
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
