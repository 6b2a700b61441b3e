// Which keys a login token may be signed with, and checking it: the server's secret and extra
// HMAC secrets or public keys (RS256, ES256, EdDSA) selected by the token's `kid`, the keys of a
// JWKS URL (cached, refreshed in the background, the last good set kept when a fetch fails),
// and ZEGO's token04 when the app's ZEGO appID and server secret are configured.
import { createPublicKey, type KeyObject, type webcrypto } from "node:crypto";
import { BeckonError, ErrorCode } from "@beckon/protocol";
import type { FastifyBaseLogger } from "fastify";
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  jwtVerify,
  type ProtectedHeaderParameters,
} from "jose";
import { looksLikeZegoToken, readZegoToken, type ZegoSettings } from "./zego-token.js";

/** What the verifier logs through (a pino or Fastify logger). */
type Log = Pick<FastifyBaseLogger, "debug" | "info" | "warn">;

/**
 * Tokens that expire further ahead than this are refused even where no bound is configured: a
 * leaked token valid until 9999 could never be taken back.
 */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 20 * 366 * 86_400;

/** The algorithms a token may be signed with; `none` and every other one are refused. */
export const TOKEN_ALGORITHMS = ["HS256", "RS256", "ES256", "EdDSA", "Ed25519"] as const;
export type TokenAlgorithm = (typeof TOKEN_ALGORITHMS)[number];

/** One extra key: an HMAC `secret` or a PEM `publicKey`, named by the `kid` tokens carry. */
export interface TokenKey {
  kid: string;
  secret?: string;
  publicKey?: string;
}

export interface TokenVerifierSettings {
  /** The server's own secret (HS256): it signs the tokens Beckon mints. */
  secret: string;
  /** The `kid` of `secret`; tokens Beckon mints carry it. */
  secretKeyID?: string;
  tokenKeys?: readonly TokenKey[];
  tokenJwksUrl?: string;
  tokenJwksRefreshSeconds?: number;
  zego?: ZegoSettings;
  /** Tokens expiring further ahead are refused. */
  maxTokenLifetimeSeconds: number;
}

export interface TokenIdentity {
  userID: string;
  /** Epoch ms. */
  expiresAt: number;
}

interface VerificationKey {
  kid: string | undefined;
  /** The algorithms this key verifies; a token naming another one is refused. */
  algorithms: readonly TokenAlgorithm[];
  key: KeyObject | Uint8Array;
  /** Named in logs and errors. */
  label: string;
}

type WebCryptoKey = webcrypto.CryptoKey;

const invalid = (why: string) => new BeckonError(ErrorCode.TokenInvalid, why);

/** The algorithms a public key verifies, from its type; undefined for unsupported keys. */
export function algorithmsOfPublicKey(key: KeyObject): readonly TokenAlgorithm[] | undefined {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? ["RS256"] : undefined;
    case "ec":
      return key.asymmetricKeyDetails?.namedCurve === "prime256v1" ? ["ES256"] : undefined;
    case "ed25519":
      return ["EdDSA", "Ed25519"];
    default:
      return undefined;
  }
}

/** Why a PEM text cannot be a verification key, or undefined when it can. */
export function publicKeyProblem(pem: string): string | undefined {
  if (/PRIVATE KEY-----/.test(pem)) {
    return "is a private key: give Beckon the public key only (openssl pkey -pubout)";
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return "is not a PEM public key";
  }
  return algorithmsOfPublicKey(key)
    ? undefined
    : "must be an RSA (2048 bits or more), EC P-256 or Ed25519 public key";
}

function hmacKey(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

type RemoteKeys = ReturnType<typeof createRemoteJWKSet>;

export class TokenVerifier {
  private readonly keys: VerificationKey[];
  private readonly byKid = new Map<string, VerificationKey>();
  private readonly remote: RemoteKeys | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private refreshFailing = false;

  constructor(
    private readonly settings: TokenVerifierSettings,
    private readonly log: Log,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.keys = [
      {
        kid: settings.secretKeyID,
        algorithms: ["HS256"],
        key: hmacKey(settings.secret),
        label: "the server secret",
      },
      ...(settings.tokenKeys ?? []).map((entry): VerificationKey => {
        if (entry.secret !== undefined) {
          return {
            kid: entry.kid,
            algorithms: ["HS256"],
            key: hmacKey(entry.secret),
            label: `key "${entry.kid}"`,
          };
        }
        const key = createPublicKey(entry.publicKey ?? "");
        const algorithms = algorithmsOfPublicKey(key);
        if (!algorithms) throw new Error(`tokenKeys: key "${entry.kid}" is not supported`);
        return { kid: entry.kid, algorithms, key, label: `key "${entry.kid}"` };
      }),
    ];
    for (const key of this.keys) if (key.kid !== undefined) this.byKid.set(key.kid, key);
    if (settings.tokenJwksUrl !== undefined) {
      // Never stale by age: the background refresh renews the set, and a failed fetch keeps
      // the last good one instead of refusing every token until the endpoint is back. An
      // unknown kid still triggers a fetch, at most once per cooldown.
      this.remote = createRemoteJWKSet(new URL(settings.tokenJwksUrl), {
        cacheMaxAge: Number.POSITIVE_INFINITY,
        cooldownDuration: Math.min(30, settings.tokenJwksRefreshSeconds ?? 300) * 1000,
        timeoutDuration: 5_000,
      });
    }
  }

  /** Fetches the JWKS once (a failure is logged: the node still starts) and keeps it fresh. */
  async start(): Promise<this> {
    if (!this.remote) return this;
    await this.refresh();
    const everyMs = (this.settings.tokenJwksRefreshSeconds ?? 300) * 1000;
    this.refreshTimer = setInterval(() => void this.refresh(), everyMs);
    this.refreshTimer.unref();
    return this;
  }

  async close(): Promise<void> {
    clearInterval(this.refreshTimer);
  }

  /** Fetches the JWKS now; on failure the keys fetched last stay in use. */
  async refresh(): Promise<void> {
    const remote = this.remote;
    if (!remote) return;
    try {
      await remote.reload();
      const keys = remote.jwks()?.keys.length ?? 0;
      if (this.refreshFailing) this.log.info({ keys }, "JWKS fetched again: its keys are in use");
      else this.log.debug({ keys }, "JWKS fetched");
      this.refreshFailing = false;
    } catch (error) {
      // Once per failing stretch, not on every refresh.
      if (!this.refreshFailing) {
        this.log.warn(
          { err: error, keys: remote.jwks()?.keys.length ?? 0 },
          "fetching the JWKS failed: the keys fetched last stay in use",
        );
      }
      this.refreshFailing = true;
    }
  }

  /** The user a token was issued to and when it expires, or a BeckonError (6000103 / 6000106). */
  async identify(token: string): Promise<TokenIdentity> {
    const nowSeconds = this.nowMs() / 1000;
    if (this.settings.zego && looksLikeZegoToken(token)) {
      const { userID, expire } = readZegoToken(token, this.settings.zego, nowSeconds);
      this.checkLifetime(expire, nowSeconds);
      return { userID, expiresAt: expire * 1000 };
    }
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw invalid("the token is not a JWT");
    }
    const alg = header.alg;
    if (typeof alg !== "string" || alg.toLowerCase() === "none") {
      throw invalid("the token is unsigned (alg none): refused");
    }
    if (!(TOKEN_ALGORITHMS as readonly string[]).includes(alg)) {
      throw invalid(
        `the token's algorithm ${alg} is not accepted (${TOKEN_ALGORITHMS.join(", ")})`,
      );
    }
    const candidates = await this.keysFor(alg as TokenAlgorithm, header.kid);
    for (const key of candidates) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: [alg],
          currentDate: new Date(this.nowMs()),
        }));
      } catch (error) {
        if (error instanceof errors.JWSSignatureVerificationFailed) continue;
        if (error instanceof errors.JWTExpired) {
          throw new BeckonError(ErrorCode.TokenExpired, "the token has expired");
        }
        throw invalid("the token is invalid");
      }
      if (typeof payload.sub !== "string" || payload.sub === "") {
        throw invalid("the token names no user (sub)");
      }
      if (typeof payload.exp !== "number") throw invalid("the token has no expiry");
      this.checkLifetime(payload.exp, nowSeconds);
      return { userID: payload.sub, expiresAt: payload.exp * 1000 };
    }
    throw invalid(
      header.kid === undefined
        ? "the token's signature matches none of the keys"
        : `the token's signature does not match key "${header.kid}"`,
    );
  }

  /** Checks that `token` was issued to `userID`; returns its expiry (epoch ms). */
  async verify(token: string, userID: string): Promise<number> {
    const identity = await this.identify(token);
    if (identity.userID !== userID) throw invalid("the token was issued for another user");
    return identity.expiresAt;
  }

  private checkLifetime(expSeconds: number, nowSeconds: number): void {
    const max = this.settings.maxTokenLifetimeSeconds;
    if (expSeconds - nowSeconds > max) {
      throw invalid(`the token expires more than ${max} s from now`);
    }
  }

  /**
   * The keys that may have signed a token of `alg`: the one its `kid` names (unknown kid and a
   * key of another algorithm are refused), or without a kid each configured key of `alg`.
   */
  private async keysFor(
    alg: TokenAlgorithm,
    kid: string | undefined,
  ): Promise<Array<KeyObject | Uint8Array | WebCryptoKey>> {
    if (kid !== undefined) {
      const known = this.byKid.get(kid);
      if (known) {
        if (!known.algorithms.includes(alg)) throw mismatch(alg, kid, known.algorithms);
        return [known.key];
      }
      const remote = await this.remoteKeys(alg, kid);
      if (remote === "unknown") throw invalid(`the token's key ID "${kid}" is unknown`);
      return remote;
    }
    const local = this.keys.filter((key) => key.algorithms.includes(alg)).map((key) => key.key);
    const remote = await this.remoteKeys(alg, undefined);
    return remote === "unknown" ? local : [...local, ...remote];
  }

  private async remoteKeys(
    alg: TokenAlgorithm,
    kid: string | undefined,
  ): Promise<WebCryptoKey[] | "unknown"> {
    const remote = this.remote;
    // Before a first successful fetch, no lookup: each one would fetch again.
    if (!remote || remote.jwks() === undefined) return "unknown";
    try {
      return [await remote({ alg, ...(kid === undefined ? {} : { kid }) })];
    } catch (error) {
      if (error instanceof errors.JWKSMultipleMatchingKeys) {
        const keys: WebCryptoKey[] = [];
        for await (const key of error) keys.push(key);
        return keys;
      }
      if (kid !== undefined) {
        const listed = remote.jwks()?.keys.find((jwk) => jwk.kid === kid);
        if (listed) {
          throw invalid(
            `the token's algorithm ${alg} does not match key "${kid}" (${listed.alg ?? listed.kty})`,
          );
        }
      }
      if (!(error instanceof errors.JWKSNoMatchingKey)) {
        this.log.warn({ err: error, kid }, "looking up a token's key in the JWKS failed");
      }
      return "unknown";
    }
  }
}

function mismatch(alg: string, kid: string, algorithms: readonly string[]): BeckonError {
  return invalid(
    `the token's algorithm ${alg} does not match key "${kid}" (${algorithms.join(" or ")})`,
  );
}
