// Operator console sessions: an admin API key, presented once, is exchanged for a short-lived
// signed session that travels only in an HttpOnly, SameSite=Strict cookie. The session is a
// token signed with a key derived from the server's secret, so any node of a cluster accepts
// it; it names the API key, which must still exist when it is used (revoking the key ends it).
import { createHmac } from "node:crypto";
import { errors, jwtVerify, SignJWT } from "jose";
import { type ApiKey, type ApiKeyStore, allows } from "../api/api-key-store.js";

export const SESSION_COOKIE = "beckon_console";
/** The cookie is sent only to the server API (the console's pages need none). */
export const SESSION_PATH = "/api";
/**
 * Every state-changing request a session makes carries this header. A page on another origin
 * cannot add it without a CORS preflight, which this server never grants: with SameSite=Strict
 * that is the session's CSRF defence.
 */
export const CSRF_HEADER = "x-beckon-console";

const AUDIENCE = "beckon-console";
const KEY_CHECK_MS = 5_000;

export interface ConsoleSession {
  /** The API key the session was opened with (its scopes as they are now). */
  key: ApiKey;
  /** Whether the operator allowed actions (cancel, end, replay) at sign-in; else read-only. */
  actions: boolean;
  expiresAt: number;
}

export interface ConsoleSessionOptions {
  secret: string;
  keys: ApiKeyStore;
  /** How long a session lives without use; each use moves the end on. Default 30 minutes. */
  ttlMs?: number;
  clock?: () => number;
}

export type SignInResult =
  | { ok: true; token: string; session: ConsoleSession }
  | { ok: false; status: 401 | 403; reason: string };

export class ConsoleSessions {
  readonly ttlMs: number;
  private readonly signingKey: Uint8Array;
  private readonly clock: () => number;
  /** The key list, re-read at most every few seconds: revocation shows within that. */
  private keyList: { at: number; keys: Promise<Map<string, ApiKey>> } | undefined;

  constructor(private readonly options: ConsoleSessionOptions) {
    this.ttlMs = options.ttlMs ?? 30 * 60_000;
    this.clock = options.clock ?? Date.now;
    // Its own key, so a session can never pass for a login token nor one for a session.
    this.signingKey = createHmac("sha256", options.secret)
      .update("beckon console session")
      .digest();
  }

  now(): number {
    return this.clock();
  }

  /** Exchanges an API key for a session; only keys with the admin scope may open one. */
  async signIn(presented: string, actions: boolean): Promise<SignInResult> {
    const key = await this.options.keys.verify(presented, this.clock());
    if (!key) return { ok: false, status: 401, reason: "the API key is unknown or revoked" };
    if (!allows(key.scopes, "admin")) {
      return {
        ok: false,
        status: 403,
        reason: "the console needs an API key with the admin scope",
      };
    }
    this.keyList = undefined;
    const session = { key, actions, expiresAt: this.clock() + this.ttlMs };
    return { ok: true, token: await this.sign(session), session };
  }

  /** A fresh token for the same session, valid for another `ttlMs`. */
  async renew(session: ConsoleSession): Promise<{ token: string; session: ConsoleSession }> {
    const renewed = { ...session, expiresAt: this.clock() + this.ttlMs };
    return { token: await this.sign(renewed), session: renewed };
  }

  /** The session a cookie carries, or undefined when it is forged, expired or its key revoked. */
  async verify(token: string): Promise<ConsoleSession | undefined> {
    let payload: { sub?: string; act?: unknown; exp?: number };
    try {
      ({ payload } = await jwtVerify(token, this.signingKey, {
        audience: AUDIENCE,
        algorithms: ["HS256"],
        currentDate: new Date(this.clock()),
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError) return undefined;
      throw error;
    }
    if (typeof payload.sub !== "string" || typeof payload.exp !== "number") return undefined;
    const key = (await this.currentKeys()).get(payload.sub);
    if (!key || !allows(key.scopes, "admin")) return undefined;
    return { key, actions: payload.act === true, expiresAt: payload.exp * 1000 };
  }

  private sign(session: ConsoleSession): Promise<string> {
    return new SignJWT({ act: session.actions })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(session.key.id)
      .setAudience(AUDIENCE)
      .setIssuedAt(Math.floor(this.clock() / 1000))
      .setExpirationTime(Math.floor(session.expiresAt / 1000))
      .sign(this.signingKey);
  }

  private currentKeys(): Promise<Map<string, ApiKey>> {
    const now = this.clock();
    if (!this.keyList || now - this.keyList.at > KEY_CHECK_MS) {
      const keys = this.options.keys
        .list()
        .then((list) => new Map(list.map((key) => [key.id, key])));
      // A failed read is not cached: the next request asks again.
      keys.catch(() => {
        this.keyList = undefined;
      });
      this.keyList = { at: now, keys };
    }
    return this.keyList.keys;
  }
}

/** The `Set-Cookie` value carrying `token` (or clearing it when `token` is empty). */
export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${token}`,
    `Path=${SESSION_PATH}`,
    `Max-Age=${token ? maxAgeSeconds : 0}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

/** The session token in a `Cookie` header, if any. */
export function sessionToken(cookieHeader: string | undefined): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}
