// The generic provider: each push is a JSON POST to the app's own push gateway, signed like a
// webhook (Standard Webhooks), which the app bridges to whatever service its devices use.
import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import {
  failure,
  type PushMessage,
  type PushProvider,
  type PushRegistration,
  type PushResult,
} from "./push-types.js";

export interface HttpPushOptions {
  url: string;
  /** A Standard Webhooks secret (`whsec_` + base64) the gateway verifies signatures with. */
  secret: string;
  timeoutMs?: number;
  clock?: () => number;
}

export class HttpPushProvider implements PushProvider {
  readonly name = "http" as const;
  private readonly signer: Webhook;
  private readonly timeoutMs: number;
  private readonly clock: () => number;

  constructor(private readonly options: HttpPushOptions) {
    this.signer = new Webhook(options.secret);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.clock = options.clock ?? Date.now;
  }

  async send(registration: PushRegistration, message: PushMessage): Promise<PushResult> {
    const { target } = registration;
    if (target.provider !== "http") return failure(0, "not an HTTP push registration");
    const body = JSON.stringify({
      type: "push",
      registration: {
        id: registration.id,
        userID: registration.userID,
        deviceID: registration.deviceID,
        token: target.token,
      },
      message,
    });
    const id = `push_${randomUUID()}`;
    const timestamp = new Date(this.clock());
    let response: Response;
    try {
      response = await fetch(this.options.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": id,
          "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
          "webhook-signature": this.signer.sign(id, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      return failure(0, (error as Error).message);
    }
    const text = await response.text().catch(() => "");
    if (response.ok) return { ok: true, status: response.status };
    // The gateway says the token is dead the way push services do.
    return failure(
      response.status,
      text.slice(0, 200) || response.statusText,
      response.status === 410,
    );
  }
}
