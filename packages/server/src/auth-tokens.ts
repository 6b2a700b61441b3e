// Login tokens Beckon mints itself: HS256 JWTs whose subject is the userID, signed with the
// server's secret (and carrying its key ID when one is set). Checking them: token-verifier.ts.
import { SignJWT } from "jose";

export interface SignTokenOptions {
  secret: string;
  userID: string;
  /** Lifetime in seconds; one day when absent. */
  ttlSeconds?: number;
  /** The secret's key ID (the server's `secretKeyID`), put in the token's `kid` header. */
  keyID?: string;
}

export async function signToken({
  secret,
  userID,
  ttlSeconds = 86_400,
  keyID,
}: SignTokenOptions): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({
      alg: "HS256",
      typ: "JWT",
      ...(keyID === undefined ? {} : { kid: keyID }),
    })
    .setSubject(userID)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}
