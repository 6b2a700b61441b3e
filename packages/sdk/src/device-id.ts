// A device ID per client instance: random enough (128 bits) that two devices never collide,
// and stable across reconnects so the server recognises the device coming back.

export function randomDeviceID(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
