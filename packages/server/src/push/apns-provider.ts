// Apple Push Notification service over HTTP/2 with token-based (ES256 JWT) authentication.
// Calls go to PushKit tokens as `apns-push-type: voip` (the app must report them to CallKit);
// a plain device token gets a visible alert instead.
import http2 from "node:http2";
import { importPKCS8, SignJWT } from "jose";
import {
  failure,
  type PushMessage,
  type PushProvider,
  type PushRegistration,
  type PushResult,
  pushTtlSeconds,
} from "./push-types.js";

export interface ApnsOptions {
  /** The 10-character Team ID the signing key belongs to. */
  teamID: string;
  /** The key's ID, from the developer account. */
  keyID: string;
  /** The `.p8` signing key (PKCS#8 PEM). */
  privateKey: string;
  /** The app's bundle ID; VoIP pushes go to `<bundleID>.voip`. */
  bundleID: string;
  /** `https://api.push.apple.com` when absent; the sandbox or a local receiver otherwise. */
  endpoint?: string;
  timeoutMs?: number;
  clock?: () => number;
}

const DEFAULT_ENDPOINT = "https://api.push.apple.com";
/** Apple refuses tokens older than an hour and throttles renewals more often than 20 minutes. */
const TOKEN_LIFETIME_MS = 40 * 60_000;
/** Reasons after which the token will never work again. */
const EXPIRED_REASONS = new Set(["Unregistered", "BadDeviceToken", "DeviceTokenNotForTopic"]);

/** The body APNs gets: `aps` for the system, `beckon` for the app's code. */
export function apnsBody(message: PushMessage, voip: boolean): Record<string, unknown> {
  const beckon = { ...message };
  if (voip) return { aps: {}, beckon };
  const aps: Record<string, unknown> = {
    alert: { title: message.title, body: message.content },
    sound: "default",
    "mutable-content": 1,
  };
  if (message.enableBadge && message.badgeIncrement !== undefined) {
    aps.badge = message.badgeIncrement;
  }
  return { aps, beckon };
}

export class ApnsProvider implements PushProvider {
  readonly name = "apns" as const;
  private session: http2.ClientHttp2Session | undefined;
  private jwt: { value: string; madeAt: number } | undefined;
  private readonly endpoint: string;
  private readonly timeoutMs: number;
  private readonly clock: () => number;

  constructor(private readonly options: ApnsOptions) {
    this.endpoint = options.endpoint ?? DEFAULT_ENDPOINT;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  async send(registration: PushRegistration, message: PushMessage): Promise<PushResult> {
    const { target } = registration;
    if (target.provider !== "apns") return failure(0, "not an APNs registration");
    if (!/^[0-9a-fA-F]{16,200}$/.test(target.token)) {
      return failure(400, "BadDeviceToken", true);
    }
    const first = await this.post(target.token, target.voip, message, false);
    // The provider token went stale (clock skew, revoked key rotation): one fresh one.
    if (!first.ok && first.reason === "ExpiredProviderToken") {
      return this.post(target.token, target.voip, message, true);
    }
    return first;
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session && !session.closed) {
      await new Promise<void>((resolve) => session.close(() => resolve()));
    }
  }

  private async post(
    token: string,
    voip: boolean,
    message: PushMessage,
    freshToken: boolean,
  ): Promise<PushResult> {
    let authorization: string;
    try {
      authorization = `bearer ${await this.providerToken(freshToken)}`;
    } catch (error) {
      return failure(0, `cannot sign the provider token: ${(error as Error).message}`);
    }
    const now = this.clock();
    const ttl = pushTtlSeconds(message, now);
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": `/3/device/${token}`,
      authorization,
      "apns-topic": voip ? `${this.options.bundleID}.voip` : this.options.bundleID,
      "apns-push-type": voip ? "voip" : "alert",
      "apns-priority": "10",
      // 0 would mean "once, now or never"; an invitation may wait for the phone till its deadline.
      "apns-expiration": String(Math.floor(now / 1000) + ttl),
      "apns-collapse-id": message.callID.slice(0, 64),
      "content-type": "application/json",
    };
    const body = JSON.stringify(apnsBody(message, voip));
    return new Promise<PushResult>((resolve) => {
      let session: http2.ClientHttp2Session;
      try {
        session = this.connect();
      } catch (error) {
        resolve(failure(0, (error as Error).message));
        return;
      }
      const request = session.request(headers);
      let status = 0;
      let apnsID: string | undefined;
      const chunks: Buffer[] = [];
      request.setTimeout(this.timeoutMs, () => request.close(http2.constants.NGHTTP2_CANCEL));
      request.on("response", (response) => {
        status = Number(response[":status"] ?? 0);
        const id = response["apns-id"];
        if (typeof id === "string") apnsID = id;
      });
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("error", (error) => resolve(failure(0, error.message)));
      request.on("close", () => {
        if (status === 0) {
          resolve(failure(0, "no answer from APNs"));
          return;
        }
        if (status === 200) {
          resolve({ ok: true, status, ...(apnsID ? { providerMessageID: apnsID } : {}) });
          return;
        }
        let reason = `HTTP ${status}`;
        try {
          const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { reason?: unknown };
          if (typeof parsed.reason === "string") reason = parsed.reason;
        } catch {
          // No JSON body: keep the status.
        }
        resolve(failure(status, reason, status === 410 || EXPIRED_REASONS.has(reason)));
      });
      request.end(body);
    });
  }

  /** One HTTP/2 connection for every push, as Apple asks; made again once it closes. */
  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = http2.connect(this.endpoint);
    session.on("error", () => {
      if (this.session === session) this.session = undefined;
    });
    session.on("goaway", () => {
      if (this.session === session) this.session = undefined;
    });
    session.on("close", () => {
      if (this.session === session) this.session = undefined;
    });
    // An idle connection must not keep the process alive.
    session.unref();
    this.session = session;
    return session;
  }

  private async providerToken(fresh: boolean): Promise<string> {
    const now = this.clock();
    if (!fresh && this.jwt && now - this.jwt.madeAt < TOKEN_LIFETIME_MS) return this.jwt.value;
    const value = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: this.options.keyID })
      .setIssuer(this.options.teamID)
      .setIssuedAt(Math.floor(now / 1000))
      .sign(await importPKCS8(this.options.privateKey, "ES256"));
    this.jwt = { value, madeAt: now };
    return value;
  }
}
