// What `beckon start` makes of its token options: the extra keys read from their files and the
// ZEGO settings, checked at start so a wrong file stops the node with a message (exit 2) instead
// of refusing every token signed with that key.
import { readFileSync } from "node:fs";
import { type StartOptions, UsageError } from "./cli-options.js";
import type { ServerOptions } from "./server-options.js";
import { publicKeyProblem, type TokenKey } from "./token-verifier.js";

export interface CliTokens {
  settings: Pick<ServerOptions, "tokenKeys" | "zego">;
  /** What verifies tokens besides the secret, for the start banner. */
  summary: string[];
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

/** A key file: a PEM public key, or else (any other text) an HMAC secret. */
function keyFrom(kid: string, path: string): TokenKey {
  const what = `tokenKeys "${kid}"`;
  const text = readText(path, what);
  if (text.includes("-----BEGIN")) {
    const problem = publicKeyProblem(text);
    if (problem) throw new UsageError(`${what} (${path}) ${problem}`);
    return { kid, publicKey: text };
  }
  const secret = text.trim();
  if (secret.length < 16) {
    throw new UsageError(
      `${what} (${path}) must hold a PEM public key or an HMAC secret of at least 16 characters`,
    );
  }
  return { kid, secret };
}

export function cliTokens(options: StartOptions, env: NodeJS.ProcessEnv): CliTokens {
  const summary: string[] = [];
  const settings: CliTokens["settings"] = {};
  const kids = Object.keys(options.tokenKeys ?? {});
  if (options.secretKeyID !== undefined && kids.includes(options.secretKeyID)) {
    throw new UsageError(
      `tokenKeys "${options.secretKeyID}" has the kid of the secret (secretKeyID): give it another`,
    );
  }
  if (kids.length > 0) {
    settings.tokenKeys = Object.entries(options.tokenKeys ?? {}).map(([kid, path]) =>
      keyFrom(kid, path),
    );
    summary.push(`keys ${kids.join(", ")}`);
  }
  if (options.tokenJwksUrl) summary.push(`JWKS ${options.tokenJwksUrl}`);

  const fromEnv = env.BECKON_ZEGO_SERVER_SECRET || undefined;
  const fromFile = options.zegoServerSecretFile;
  if (options.zegoAppID === undefined) {
    if (fromEnv !== undefined || fromFile !== undefined) {
      throw new UsageError(
        `${fromEnv !== undefined ? "BECKON_ZEGO_SERVER_SECRET" : "zegoServerSecretFile"} needs zegoAppID (--zego-app-id / BECKON_ZEGO_APP_ID)`,
      );
    }
    return { settings, summary };
  }
  const serverSecret =
    fromEnv ??
    (fromFile === undefined ? undefined : readText(fromFile, "zegoServerSecretFile").trim());
  if (serverSecret === undefined) {
    throw new UsageError(
      "zegoAppID needs the app's ZEGO server secret: set BECKON_ZEGO_SERVER_SECRET or zegoServerSecretFile",
    );
  }
  if (serverSecret.length !== 32) {
    throw new UsageError("the ZEGO server secret must be the 32 characters ZEGO's console shows");
  }
  settings.zego = { appID: options.zegoAppID, serverSecret };
  summary.push(`ZEGO token04 of appID ${options.zegoAppID}`);
  return { settings, summary };
}
