// Per-tab memory (sessionStorage): the device ID, so a reload is the same device to the server,
// and who is signed in, so a reload signs back in instead of dropping the user's calls.

const deviceKey = "beckon-demo/device-id";
const sessionKey = "beckon-demo/session";

export interface SavedSession {
  userID: string;
  /** A pasted token; null when the token came from the server's development endpoint. */
  token: string | null;
}

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) =>
    byte.toString(16).padStart(2, "0"),
  ).join("");
}

export function tabDeviceID(): string {
  try {
    const known = sessionStorage.getItem(deviceKey);
    if (known && /^[0-9a-f]{32}$/.test(known)) return known;
    const fresh = randomHex(16);
    sessionStorage.setItem(deviceKey, fresh);
    return fresh;
  } catch {
    return randomHex(16);
  }
}

export function savedSession(): SavedSession | null {
  try {
    const parsed = JSON.parse(sessionStorage.getItem(sessionKey) ?? "null") as SavedSession | null;
    if (typeof parsed?.userID !== "string") return null;
    return { userID: parsed.userID, token: typeof parsed.token === "string" ? parsed.token : null };
  } catch {
    return null;
  }
}

export function saveSession(session: SavedSession | null): void {
  try {
    if (session) sessionStorage.setItem(sessionKey, JSON.stringify(session));
    else sessionStorage.removeItem(sessionKey);
  } catch {
    // Without sessionStorage a reload simply asks to sign in again.
  }
}
