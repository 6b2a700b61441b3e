// What `beckon start` makes of its push options: the provider settings `createServer` takes,
// with the key files read and checked at start, so a wrong file stops the node with a message
// instead of failing at the first push.
import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { type StartOptions, UsageError } from "./cli-options.js";
import type { ServiceAccount } from "./push/fcm-provider.js";
import type { PushSettings } from "./server-options.js";

/**
 * RFC 8292 wants a contact; a development node has none to give. Push services accept this one
 * (it is well-formed); production mode asks for a real one.
 */
export const DEVELOPMENT_SUBJECT = "mailto:beckon-development@example.com";

const APNS_SANDBOX = "https://api.sandbox.push.apple.com";

export interface CliPush {
  /** Undefined when no provider is on. */
  settings: PushSettings | undefined;
  /** One phrase per provider that is on, for the start banner. */
  summary: string[];
}

function readText(path: string, option: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${option} ${path}: ${(error as Error).message}`);
  }
}

function checkPrivateKey(pem: string, what: string): void {
  try {
    createPrivateKey(pem);
  } catch (error) {
    throw new UsageError(`${what} is not a PEM private key (${(error as Error).message})`);
  }
}

function serviceAccountFrom(path: string): ServiceAccount {
  const option = "push.fcm.serviceAccountFile";
  let parsed: unknown;
  try {
    parsed = JSON.parse(readText(path, option));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`${option} ${path} is not JSON: ${(error as Error).message}`);
  }
  const account = (typeof parsed === "object" && parsed !== null ? parsed : {}) as Record<
    string,
    unknown
  >;
  const missing = ["project_id", "client_email", "private_key"].filter(
    (field) => typeof account[field] !== "string" || account[field] === "",
  );
  if (missing.length > 0) {
    throw new UsageError(
      `${option} ${path} is not a service-account key file: it lacks ${missing.join(", ")}`,
    );
  }
  checkPrivateKey(account.private_key as string, `the private_key of ${path}`);
  return {
    project_id: account.project_id as string,
    client_email: account.client_email as string,
    private_key: account.private_key as string,
    ...(typeof account.token_uri === "string" ? { token_uri: account.token_uri } : {}),
  };
}

/** The Standard Webhooks secret of the HTTP provider: the variable, else the file. */
function httpSecret(options: StartOptions, env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.BECKON_PUSH_HTTP_SECRET;
  const file = options.push.http.secretFile;
  const secret = fromEnv
    ? fromEnv.trim()
    : file
      ? readText(file, "push.http.secretFile").trim()
      : undefined;
  if (secret !== undefined && !/^whsec_[A-Za-z0-9+/]{22,}={0,2}$/.test(secret)) {
    throw new UsageError(
      `the push gateway's secret (${fromEnv ? "BECKON_PUSH_HTTP_SECRET" : file}) must be whsec_ followed by base64, at least 16 bytes`,
    );
  }
  return secret;
}

export function cliPush(options: StartOptions, env: NodeJS.ProcessEnv): CliPush {
  const { webPush, fcm, apns, http } = options.push;
  const settings: PushSettings = {};
  const summary: string[] = [];

  const webPushOn = webPush.enabled ?? (!options.production || webPush.subject !== undefined);
  if (webPushOn) {
    if (webPush.subject === undefined && options.production) {
      throw new UsageError(
        "Web Push in production mode needs a contact: set push.webPush.subject (--push-web-push-subject / BECKON_PUSH_WEB_PUSH_SUBJECT) to a mailto: address or https:// URL",
      );
    }
    settings.webPush = { subject: webPush.subject ?? DEVELOPMENT_SUBJECT };
    settings.vapidDir = options.data;
    summary.push("Web Push");
  }
  if (fcm.serviceAccountFile !== undefined) {
    const serviceAccount = serviceAccountFrom(fcm.serviceAccountFile);
    settings.fcm = { serviceAccount };
    summary.push(`FCM (${serviceAccount.project_id})`);
  }
  if (apns.keyFile !== undefined && apns.keyID && apns.teamID && apns.bundleID) {
    const privateKey = readText(apns.keyFile, "push.apns.keyFile");
    checkPrivateKey(privateKey, `push.apns.keyFile ${apns.keyFile}`);
    settings.apns = {
      keyID: apns.keyID,
      teamID: apns.teamID,
      bundleID: apns.bundleID,
      privateKey,
      ...(apns.environment === "sandbox" ? { endpoint: APNS_SANDBOX } : {}),
    };
    summary.push(`APNs (${apns.bundleID}, ${apns.environment})`);
  }
  const secret = httpSecret(options, env);
  if (http.url !== undefined) {
    if (secret === undefined) {
      throw new UsageError(
        "push.http.url needs a signing secret: set BECKON_PUSH_HTTP_SECRET or push.http.secretFile (whsec_…)",
      );
    }
    settings.http = { url: http.url, secret };
    summary.push(`HTTP (${new URL(http.url).origin})`);
  } else if (secret !== undefined) {
    throw new UsageError("BECKON_PUSH_HTTP_SECRET is set but push.http.url is not");
  }
  return { settings: summary.length > 0 ? settings : undefined, summary };
}
