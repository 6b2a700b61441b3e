// Firebase Cloud Messaging HTTP v1: a service account's signed JWT is exchanged for an OAuth
// access token (RFC 7523), which authorizes `projects/{id}/messages:send`.
import { importPKCS8, SignJWT } from "jose";
import {
  failure,
  messageData,
  type PushMessage,
  type PushProvider,
  type PushRegistration,
  type PushResult,
  pushTtlSeconds,
} from "./push-types.js";

/** The fields of a Google service-account key file that the exchange needs. */
export interface ServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  /** Where the JWT is exchanged; Google's default when absent. */
  token_uri?: string;
}

export interface FcmOptions {
  serviceAccount: ServiceAccount;
  /** Base URL of the FCM API (tests point it at a local receiver). */
  endpoint?: string;
  timeoutMs?: number;
  clock?: () => number;
}

const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
const DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token";
const DEFAULT_ENDPOINT = "https://fcm.googleapis.com";

interface AccessToken {
  value: string;
  expiresAt: number;
}

/** FCM v1's error body: `{error: {code, message, status, details: [{errorCode}]}}`. */
interface FcmErrorBody {
  error?: {
    status?: string;
    message?: string;
    details?: Array<{ "@type"?: string; errorCode?: string }>;
  };
}

export class FcmProvider implements PushProvider {
  readonly name = "fcm" as const;
  private token: AccessToken | undefined;
  private refreshing: Promise<AccessToken> | undefined;
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly clock: () => number;

  constructor(private readonly options: FcmOptions) {
    this.endpoint = (options.endpoint ?? DEFAULT_ENDPOINT).replace(/\/$/, "");
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  async send(registration: PushRegistration, message: PushMessage): Promise<PushResult> {
    const { target } = registration;
    if (target.provider !== "fcm") return failure(0, "not an FCM registration");
    const first = await this.post(target.token, message, false);
    // 401: the access token was revoked or expired early; one fresh token, one more try.
    if (!first.ok && first.status === 401) return this.post(target.token, message, true);
    return first;
  }

  private async post(token: string, message: PushMessage, fresh: boolean): Promise<PushResult> {
    let accessToken: string;
    try {
      accessToken = (await this.accessToken(fresh)).value;
    } catch (error) {
      return failure(0, `token exchange failed: ${(error as Error).message}`);
    }
    const url = `${this.endpoint}/v1/projects/${encodeURIComponent(
      this.options.serviceAccount.project_id,
    )}/messages:send`;
    // A data-only, high-priority message: the app's code runs and shows its own call screen.
    const body = {
      message: {
        token,
        data: messageData(message),
        android: {
          priority: "HIGH",
          ttl: `${pushTtlSeconds(message, this.clock())}s`,
          collapse_key: message.callID,
        },
      },
    };
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${accessToken}`,
          "content-type": "application/json; charset=utf-8",
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      return failure(0, (error as Error).message);
    }
    const text = await response.text().catch(() => "");
    if (response.ok) {
      const name = (JSON.parse(text || "{}") as { name?: unknown }).name;
      return {
        ok: true,
        status: response.status,
        ...(typeof name === "string" ? { providerMessageID: name } : {}),
      };
    }
    let parsed: FcmErrorBody = {};
    try {
      parsed = JSON.parse(text) as FcmErrorBody;
    } catch {
      // Not FCM's JSON (a proxy's page): the status says enough.
    }
    const errorCode = parsed.error?.details?.find((detail) => detail.errorCode)?.errorCode;
    const reason = errorCode ?? parsed.error?.status ?? (text.slice(0, 200) || response.statusText);
    // UNREGISTERED: the app was uninstalled or the token rotated. SENDER_ID_MISMATCH: the token
    // belongs to another project, and always will.
    const expired = errorCode === "UNREGISTERED" || errorCode === "SENDER_ID_MISMATCH";
    return failure(response.status, reason, expired);
  }

  private async accessToken(fresh: boolean): Promise<AccessToken> {
    if (!fresh && this.token && this.token.expiresAt > this.clock()) return this.token;
    this.refreshing ??= this.exchange().finally(() => {
      this.refreshing = undefined;
    });
    this.token = await this.refreshing;
    return this.token;
  }

  private async exchange(): Promise<AccessToken> {
    const account = this.options.serviceAccount;
    const tokenUri = account.token_uri ?? DEFAULT_TOKEN_URI;
    const now = Math.floor(this.clock() / 1000);
    const assertion = await new SignJWT({ scope: SCOPE })
      .setProtectedHeader({ alg: "RS256", typ: "JWT" })
      .setIssuer(account.client_email)
      .setSubject(account.client_email)
      .setAudience(tokenUri)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(await importPKCS8(account.private_key, "RS256"));
    const response = await fetch(tokenUri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion,
      }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${response.status} ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as { access_token?: unknown; expires_in?: unknown };
    if (typeof body.access_token !== "string") throw new Error("no access_token in the answer");
    const lifetime = typeof body.expires_in === "number" ? body.expires_in : 3600;
    // Renewed a minute early, so a token never expires on the way.
    return { value: body.access_token, expiresAt: this.clock() + (lifetime - 60) * 1000 };
  }
}
