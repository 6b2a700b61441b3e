// The rules of queryCallInvitationList (SPEC §3, §5 "Limits"): count 1–100, nextFlag a cursor.
import { BeckonError, ErrorCode, MAX_QUERY_COUNT } from "@beckon/protocol";

export function checkCallListQuery(
  count: number,
  nextFlag: number | undefined,
): BeckonError | null {
  if (!Number.isInteger(count) || count < 1 || count > MAX_QUERY_COUNT) {
    return new BeckonError(
      ErrorCode.ParamsInvalid,
      `count must be a whole number from 1 to ${MAX_QUERY_COUNT}`,
    );
  }
  if (nextFlag !== undefined && (!Number.isSafeInteger(nextFlag) || nextFlag < 0)) {
    return new BeckonError(ErrorCode.ParamsInvalid, "nextFlag must be 0 or a value from a reply");
  }
  return null;
}
