// Where the ZIM façade finds its Beckon server without touching a kit's `ZIM.create({ appID })`:
// a URL registered by the app at start-up (per appID or for all), else, in Node, an environment
// variable. ZIM itself needs none of this: it always talks to ZEGO's servers.
import { invalidParams } from "./client-errors.js";

/** The environment variable read in Node when the app registered no server. */
export const SERVER_URL_ENV = "BECKON_SERVER_URL";

/**
 * Turns the token a kit hands to `login` or `renewToken` (for example ZEGO's own kit token) into
 * the Beckon token to log in with, e.g. by asking the app's backend.
 */
export type ZIMTokenHook = (
  tokenFromKit: string,
  userInfo: { userID: string; userName?: string },
) => string | Promise<string>;

/** `ZIM.setServer`'s options beside the URL. */
export interface ZIMServerOptions {
  /** Only for this appID; every appID when absent. */
  appID?: number;
  /** Maps the kit's token to a Beckon token before it is sent. */
  token?: ZIMTokenHook;
}

interface Registered {
  url: string;
  token?: ZIMTokenHook;
}

const byAppID = new Map<number, Registered>();
let fallback: Registered | undefined;

/** Throws ParamsInvalid unless `url` is a ws:// or wss:// URL. */
export function checkServerURL(url: unknown, name: string): string {
  if (typeof url !== "string" || !/^wss?:\/\/[^\s/]+/i.test(url)) {
    throw invalidParams(`${name} must be the Beckon server's ws:// or wss:// URL`);
  }
  return url;
}

/** Registers the server (and token hook) for one appID, or for every appID when none is given. */
export function registerServer(url: string, options: number | ZIMServerOptions = {}): void {
  const checked = checkServerURL(url, "server");
  const { appID, token } = typeof options === "number" ? { appID: options } : (options ?? {});
  if (token !== undefined && typeof token !== "function") {
    throw invalidParams("setServer: token must be a function (tokenFromKit, userInfo) => token");
  }
  const entry: Registered = token ? { url: checked, token } : { url: checked };
  if (appID === undefined) {
    fallback = entry;
    return;
  }
  if (!Number.isSafeInteger(appID)) throw invalidParams("appID must be a whole number");
  byAppID.set(appID, entry);
}

/** Forgets every registered server (for apps that switch environments, and for tests). */
export function clearServers(): void {
  byAppID.clear();
  fallback = undefined;
}

function environmentServer(): string | undefined {
  // Read through globalThis so browser and mini-program bundles, which have no `process`, load.
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env;
  const value = env?.[SERVER_URL_ENV];
  return value === undefined || value === "" ? undefined : value;
}

/** The server for `appID`: registered for it, registered for all, or from the environment. */
export function serverFor(appID: number): string | undefined {
  return (byAppID.get(appID) ?? fallback)?.url ?? environmentServer();
}

/** The token hook registered with the server for `appID` (or for all), if any. */
export function tokenHookFor(appID: number): ZIMTokenHook | undefined {
  return (byAppID.get(appID) ?? fallback)?.token;
}
