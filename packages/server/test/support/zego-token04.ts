// A ZEGO token04 made the way ZEGO's published generator (zego_server_assistant, token04) makes
// it, written from its algorithm so tests can check Beckon reads what apps' backends produce:
// the JSON {app_id, user_id, nonce, ctime, expire, payload} encrypted with the 32-character
// server secret, packed as expire (int64 BE) | nonce length (uint16 BE) | nonce | ciphertext
// length (uint16 BE) | ciphertext [| mode], base64, after "04".
import { createCipheriv, randomBytes, randomInt } from "node:crypto";

export interface Token04Input {
  appID: number;
  userID: string;
  serverSecret: string;
  effectiveTimeInSeconds: number;
  payload?: string;
  /** "gcm": the current generator (AES-256-GCM, mode byte 1); "cbc": the older one. */
  mode?: "gcm" | "cbc";
  /** Creation time (epoch s); now by default. */
  ctime?: number;
}

export function generateToken04({
  appID,
  userID,
  serverSecret,
  effectiveTimeInSeconds,
  payload = "",
  mode = "gcm",
  ctime = Math.floor(Date.now() / 1000),
}: Token04Input): string {
  const info = {
    app_id: appID,
    user_id: userID,
    nonce: randomInt(-(2 ** 31), 2 ** 31 - 1),
    ctime,
    expire: ctime + effectiveTimeInSeconds,
    payload,
  };
  const plain = JSON.stringify(info);
  let nonce: Buffer;
  let encrypted: Buffer;
  if (mode === "gcm") {
    nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", serverSecret, nonce);
    encrypted = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]);
  } else {
    // The older generator's IV: 16 random characters of [0-9a-z].
    const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
    nonce = Buffer.from(
      Array.from({ length: 16 }, () => alphabet[randomInt(alphabet.length)]).join(""),
    );
    const cipher = createCipheriv("aes-256-cbc", serverSecret, nonce);
    encrypted = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  }
  const expire = Buffer.alloc(8);
  expire.writeBigInt64BE(BigInt(info.expire));
  const nonceLength = Buffer.alloc(2);
  nonceLength.writeUInt16BE(nonce.length);
  const encryptedLength = Buffer.alloc(2);
  encryptedLength.writeUInt16BE(encrypted.length);
  const parts = [expire, nonceLength, nonce, encryptedLength, encrypted];
  if (mode === "gcm") parts.push(Buffer.from([1]));
  return `04${Buffer.concat(parts).toString("base64")}`;
}
