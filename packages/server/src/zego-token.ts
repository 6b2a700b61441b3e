// ZEGO's "token04" (the kit token an app's backend already makes for ZEGO's SDKs), read with the
// app's ZEGO appID and server secret so such an app needs no backend change to log in to Beckon.
//
// Layout, as ZEGO's published generator (zego_server_assistant, token/…/token04) writes it:
// "04" + base64( expire: int64 BE | nonceLength: uint16 BE | nonce | cipherLength: uint16 BE |
// ciphertext | mode: uint8 ), the ciphertext being the JSON {app_id, user_id, nonce, ctime,
// expire, payload} encrypted with the 32-character secret as the AES key. Mode 1 is AES-256-GCM
// (12-byte nonce, 16-byte tag after the ciphertext), ZEGO's current generator; mode 0, or no
// mode byte at all (the older generator), is AES-CBC with PKCS#7 padding and a 16-byte IV.
import { createDecipheriv } from "node:crypto";
import { BeckonError, ErrorCode } from "@beckon/protocol";

export const ZEGO_TOKEN_PREFIX = "04";

export interface ZegoSettings {
  /** The app's ZEGO appID: a token of any other app is refused. */
  appID: number;
  /** The app's ZEGO server secret (32 characters), the AES key of its tokens. */
  serverSecret: string;
}

export interface ZegoTokenClaims {
  userID: string;
  /** Epoch seconds. */
  expire: number;
}

const invalid = (why: string) => new BeckonError(ErrorCode.TokenInvalid, `ZEGO token: ${why}`);

/** True for what can only be meant as a ZEGO token (a JWT starts with "eyJ"). */
export function looksLikeZegoToken(token: string): boolean {
  return token.startsWith(ZEGO_TOKEN_PREFIX);
}

/** The buffer's parts, or a refusal naming what is malformed. */
function split(token: string): { expire: number; nonce: Buffer; cipher: Buffer; mode: number } {
  const body = token.slice(ZEGO_TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw invalid("not base64 after the 04 prefix");
  const bytes = Buffer.from(body, "base64");
  if (bytes.length < 12) throw invalid("too short");
  const expireBig = bytes.readBigInt64BE(0);
  const nonceLength = bytes.readUInt16BE(8);
  const cipherAt = 10 + nonceLength + 2;
  if (bytes.length < cipherAt) throw invalid("truncated");
  const nonce = bytes.subarray(10, 10 + nonceLength);
  const cipherLength = bytes.readUInt16BE(10 + nonceLength);
  const end = cipherAt + cipherLength;
  // The older generator ends with the ciphertext; the current one adds the mode byte.
  if (bytes.length !== end && bytes.length !== end + 1) throw invalid("lengths do not add up");
  const mode = bytes.length === end ? 0 : (bytes[end] as number);
  if (expireBig > BigInt(Number.MAX_SAFE_INTEGER) || expireBig < 0n) throw invalid("bad expiry");
  return { expire: Number(expireBig), nonce, cipher: bytes.subarray(cipherAt, end), mode };
}

function decrypt(
  key: Buffer,
  { nonce, cipher, mode }: { nonce: Buffer; cipher: Buffer; mode: number },
): string {
  try {
    if (mode === 1) {
      if (nonce.length !== 12 || cipher.length < 16) throw invalid("malformed GCM parts");
      const decipher = createDecipheriv("aes-256-gcm", key, nonce);
      decipher.setAuthTag(cipher.subarray(cipher.length - 16));
      return Buffer.concat([
        decipher.update(cipher.subarray(0, cipher.length - 16)),
        decipher.final(),
      ]).toString("utf8");
    }
    if (mode === 0) {
      if (nonce.length !== 16) throw invalid("malformed CBC parts");
      const decipher = createDecipheriv(`aes-${key.length * 8}-cbc`, key, nonce);
      return Buffer.concat([decipher.update(cipher), decipher.final()]).toString("utf8");
    }
  } catch (error) {
    if (error instanceof BeckonError) throw error;
    // A wrong secret or a tampered token: one answer for both, as for a JWT's signature.
    throw invalid("it was not made with this app's server secret");
  }
  throw invalid(`unknown encryption mode ${mode}`);
}

/**
 * The user and expiry of a ZEGO token04 made for `settings.appID` with its server secret.
 * Throws TokenInvalid when it is malformed, of another app or made with another secret, and
 * TokenExpired when its expiry has passed (`nowSeconds`).
 */
export function readZegoToken(
  token: string,
  settings: ZegoSettings,
  nowSeconds: number,
): ZegoTokenClaims {
  if (!looksLikeZegoToken(token)) throw invalid("it does not start with 04");
  const parts = split(token);
  const text = decrypt(Buffer.from(settings.serverSecret, "utf8"), parts);
  let claims: unknown;
  try {
    claims = JSON.parse(text);
  } catch {
    throw invalid("it was not made with this app's server secret");
  }
  const { app_id: appID, user_id: userID, expire } = (claims ?? {}) as Record<string, unknown>;
  if (typeof appID !== "number" || appID !== settings.appID) {
    throw invalid("it was made for another appID");
  }
  if (typeof userID !== "string" || userID === "") throw invalid("it names no user");
  // The clear-text expiry must be the encrypted one: it is not covered by the cipher.
  if (typeof expire !== "number" || expire !== parts.expire) throw invalid("bad expiry");
  if (expire <= nowSeconds) throw new BeckonError(ErrorCode.TokenExpired, "the token has expired");
  return { userID, expire };
}
