// Where the ZIM façade finds its Beckon server without touching a kit's `ZIM.create({ appID })`:
// a URL registered by the app at start-up (per appID or for all), else, in Node, an environment
// variable. ZIM itself needs none of this: it always talks to ZEGO's servers.
import { invalidParams } from "./client-errors.js";

/** The environment variable read in Node when the app registered no server. */
export const SERVER_URL_ENV = "BECKON_SERVER_URL";

const byAppID = new Map<number, string>();
let fallback: string | undefined;

/** Throws ParamsInvalid unless `url` is a ws:// or wss:// URL. */
export function checkServerURL(url: unknown, name: string): string {
  if (typeof url !== "string" || !/^wss?:\/\/[^\s/]+/i.test(url)) {
    throw invalidParams(`${name} must be the Beckon server's ws:// or wss:// URL`);
  }
  return url;
}

/** Registers the server for one appID, or for every appID when none is given. */
export function registerServer(url: string, appID?: number): void {
  const checked = checkServerURL(url, "server");
  if (appID === undefined) {
    fallback = checked;
    return;
  }
  if (!Number.isSafeInteger(appID)) throw invalidParams("appID must be a whole number");
  byAppID.set(appID, checked);
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
  return byAppID.get(appID) ?? fallback ?? environmentServer();
}
