// Development tokens from the server's `POST /dev/token`, which exists only while the server runs
// in development mode. In production the app's own backend mints tokens, so the page asks for one.

export type TokenMode = "development" | "production";

const endpoint = "/dev/token";

async function post(body: unknown): Promise<Response> {
  try {
    return await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot reach the server at ${location.origin} (${why})`);
  }
}

/**
 * Asks whether this server hands out development tokens, without minting one. The development
 * routes come and go together, and the presence list answers 200 where it exists (a refused
 * probe of /dev/token would put a red 400 in the browser console of every visitor).
 */
export async function probeTokenMode(): Promise<TokenMode> {
  try {
    const response = await fetch("/dev/online", { headers: { accept: "application/json" } });
    return response.ok ? "development" : "production";
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot reach the server at ${location.origin} (${why})`);
  }
}

/** A development token for `userID`; a readable Error when the server refuses. */
export async function fetchDevToken(userID: string): Promise<string> {
  const response = await post({ userID });
  if (response.status === 404) {
    throw new Error("this server does not hand out development tokens: paste a token");
  }
  const body = (await response.json().catch(() => ({}))) as { token?: unknown; error?: unknown };
  if (!response.ok || typeof body.token !== "string") {
    const why = typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
    if (why === "invalid userID") {
      throw new Error(
        `"${userID}" is not a valid user ID: use 1–32 letters, digits or !#$%&()+-:;<=.>?@[]^_{}|~`,
      );
    }
    throw new Error(`the server did not give a token for "${userID}": ${why}`);
  }
  return body.token;
}
