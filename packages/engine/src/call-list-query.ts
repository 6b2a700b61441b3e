// The rules of queryCallInvitationList (SPEC §3, §5 "Limits"): a whole count of at least 1, over
// 100 treated as 100; nextFlag a cursor.
import { BeckonError, ErrorCode } from "@beckon/protocol";

export function checkCallListQuery(
  count: number,
  nextFlag: number | undefined,
): BeckonError | null {
  if (!Number.isInteger(count) || count < 1) {
    return new BeckonError(ErrorCode.ParamsInvalid, "count must be a whole number of at least 1");
  }
  if (nextFlag !== undefined && (!Number.isSafeInteger(nextFlag) || nextFlag < 0)) {
    return new BeckonError(ErrorCode.ParamsInvalid, "nextFlag must be 0 or a value from a reply");
  }
  return null;
}
