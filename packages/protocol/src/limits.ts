// Limits and defaults of SPEC §5 "Limits"; the server may override the configurable ones.

export const PROTOCOL_VERSION = 1;

export const MIN_TIMEOUT_SECONDS = 1;
export const MAX_TIMEOUT_SECONDS = 600;
export const DEFAULT_TIMEOUT_SECONDS = 90;
export const MAX_INVITEES_PER_INVITE = 9;
export const MAX_ACTIVE_MEMBERS = 10;
export const MAX_EXTENDED_DATA_BYTES = 2048;
export const MAX_QUERY_COUNT = 100;
export const MAX_DEVICES_PER_USER = 10;

/** Letters, digits and the punctuation SPEC §1 allows, 1–32 bytes (all allowed chars are 1 byte). */
export const USER_ID_PATTERN = /^[A-Za-z0-9!#$%&()+\-:;<=.>?@[\]^_{}|~]{1,32}$/;

export function isValidUserID(value: unknown): value is string {
  return typeof value === "string" && USER_ID_PATTERN.test(value);
}

/** UTF-8 byte length without Node's Buffer, so the SDK can use it in browsers. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
