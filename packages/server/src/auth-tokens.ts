// Login tokens: HS256 JWTs whose subject is the userID, minted by the app backend with its secret.
import { BeckonError, ErrorCode } from "@beckon/protocol";
import { errors, jwtVerify, SignJWT } from "jose";

export interface SignTokenOptions {
  secret: string;
  userID: string;
  /** Lifetime in seconds; one day when absent. */
  ttlSeconds?: number;
}

function keyOf(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export async function signToken({
  secret,
  userID,
  ttlSeconds = 86_400,
}: SignTokenOptions): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userID)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(keyOf(secret));
}

/**
 * Tokens that expire further ahead than this are refused: a leaked token valid until 9999 could
 * never be taken back. Long enough for any app's own policy; a deployment can ask for less.
 */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 20 * 366 * 86_400;

/**
 * Returns the token's expiry (epoch ms) or throws a BeckonError with 6000103 / 6000106.
 * `maxLifetimeSeconds` bounds how far ahead of now the expiry may be.
 */
export async function verifyToken(
  secret: string,
  token: string,
  userID: string,
  maxLifetimeSeconds = DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
): Promise<number> {
  try {
    const { payload } = await jwtVerify(token, keyOf(secret), { algorithms: ["HS256"] });
    if (payload.sub !== userID) {
      throw new BeckonError(ErrorCode.TokenInvalid, "the token was issued for another user");
    }
    if (typeof payload.exp !== "number") {
      throw new BeckonError(ErrorCode.TokenInvalid, "the token has no expiry");
    }
    if (payload.exp - Date.now() / 1000 > maxLifetimeSeconds) {
      throw new BeckonError(
        ErrorCode.TokenInvalid,
        `the token expires more than ${maxLifetimeSeconds} s from now`,
      );
    }
    return payload.exp * 1000;
  } catch (error) {
    if (error instanceof BeckonError) throw error;
    if (error instanceof errors.JWTExpired) {
      throw new BeckonError(ErrorCode.TokenExpired, "the token has expired");
    }
    throw new BeckonError(ErrorCode.TokenInvalid, "the token is invalid");
  }
}
