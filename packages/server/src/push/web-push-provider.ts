// Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm payload encryption (RFC 8291), the
// encryption and signing done by `web-push`, the request sent here so timeouts are ours.
import webpush from "web-push";
import {
  failure,
  type PushMessage,
  type PushProvider,
  type PushRegistration,
  type PushResult,
  pushTtlSeconds,
} from "./push-types.js";
import type { VapidKeys } from "./vapid-keys.js";

export interface WebPushOptions {
  keys: VapidKeys;
  /** A `mailto:` or `https:` contact the push services may use (RFC 8292 `sub`). */
  subject: string;
  timeoutMs?: number;
  clock?: () => number;
}

/** Push services accept about 4 KiB of ciphertext; leave room for the record overhead. */
const MAX_PLAINTEXT_BYTES = 3_900;

/** The JSON the service worker gets; oversized free-text fields give way to the call fields. */
export function webPushBody(message: PushMessage): string {
  let body = JSON.stringify(message);
  if (Buffer.byteLength(body) <= MAX_PLAINTEXT_BYTES) return body;
  body = JSON.stringify({ ...message, payload: "", truncated: true });
  if (Buffer.byteLength(body) <= MAX_PLAINTEXT_BYTES) return body;
  return JSON.stringify({ ...message, payload: "", content: "", truncated: true });
}

export class WebPushProvider implements PushProvider {
  readonly name = "webpush" as const;
  private readonly timeoutMs: number;
  private readonly clock: () => number;

  constructor(private readonly options: WebPushOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  get publicKey(): string {
    return this.options.keys.publicKey;
  }

  async send(registration: PushRegistration, message: PushMessage): Promise<PushResult> {
    const { target } = registration;
    if (target.provider !== "webpush") return failure(0, "not a Web Push registration");
    let request: ReturnType<typeof webpush.generateRequestDetails>;
    try {
      request = webpush.generateRequestDetails(
        { endpoint: target.endpoint, keys: target.keys },
        webPushBody(message),
        {
          vapidDetails: { subject: this.options.subject, ...this.options.keys },
          TTL: pushTtlSeconds(message, this.clock()),
          urgency: "high",
          // A later cancel replaces an invitation the push service still holds for the device.
          topic: /^[A-Za-z0-9_-]{1,32}$/.test(message.callID) ? message.callID : undefined,
          contentEncoding: "aes128gcm",
        },
      );
    } catch (error) {
      // A subscription whose keys cannot be used will never work.
      return failure(0, `bad subscription: ${(error as Error).message}`, true);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) headers[name] = String(value);
    let response: Response;
    try {
      response = await fetch(request.endpoint, {
        method: "POST",
        headers,
        body: request.body ? new Uint8Array(request.body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      return failure(0, (error as Error).message);
    }
    const text = await response.text().catch(() => "");
    if (response.ok) {
      return {
        ok: true,
        status: response.status,
        ...(response.headers.get("location")
          ? { providerMessageID: response.headers.get("location") as string }
          : {}),
      };
    }
    // RFC 8030 §7.3: 404 and 410 mean the subscription is gone.
    const expired = response.status === 404 || response.status === 410;
    return failure(response.status, text.slice(0, 200) || response.statusText, expired);
  }
}
