// Ringing with the tab closed: the demo's service worker (public/sw.js), a Web Push subscription
// with the server's VAPID key, and its registration with the server for the signed-in user and
// this tab's device (docs/push.md). Every way it can fail becomes a sentence for the page.

/** How long the browser's push service may take to hand out a subscription. */
const subscribeTimeoutMs = 20_000;

function reason(error: unknown): string {
  if (error instanceof Error)
    return error.name === "Error" ? error.message : `${error.name}: ${error.message}`;
  return String(error);
}

/** Why this page cannot use Web Push here, or null when it can. */
export function webPushUnsupported(): string | null {
  if (!window.isSecureContext) {
    return (
      `Web Push needs a secure page (https:// or http://localhost); this one is ${location.origin}. ` +
      "Open the demo through localhost or HTTPS to get calls with the tab closed."
    );
  }
  if (
    !("serviceWorker" in navigator) ||
    !("PushManager" in window) ||
    !("Notification" in window)
  ) {
    return "This browser does not support Web Push, so it cannot ring with the tab closed.";
  }
  return null;
}

async function vapidKey(): Promise<string> {
  let response: Response;
  try {
    response = await fetch("/api/push/web-push-key", { headers: { accept: "application/json" } });
  } catch (error) {
    throw new Error(`Could not reach the server for its Web Push key (${reason(error)}).`);
  }
  if (response.status === 404) {
    throw new Error(
      "This server has Web Push turned off. It is on in development mode; in production mode " +
        "start the server with --push-web-push-subject mailto:you@example.com (docs/push.md).",
    );
  }
  const body = (await response.json().catch(() => ({}))) as { publicKey?: unknown };
  if (!response.ok || typeof body.publicKey !== "string") {
    throw new Error(`The server did not give its Web Push key (HTTP ${response.status}).`);
  }
  return body.publicKey;
}

function base64urlBytes(text: string): Uint8Array {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4)), (c) =>
    c.charCodeAt(0),
  );
}

function sameKey(a: ArrayBuffer | null, key: string): boolean {
  if (!a) return false;
  const left = new Uint8Array(a);
  const right = base64urlBytes(key);
  return left.length === right.length && left.every((byte, index) => byte === right[index]);
}

async function installWorker(): Promise<ServiceWorkerRegistration> {
  try {
    await navigator.serviceWorker.register("./sw.js");
    return await navigator.serviceWorker.ready;
  } catch (error) {
    throw new Error(`The demo's service worker could not be installed (${reason(error)}).`);
  }
}

async function subscribe(
  registration: ServiceWorkerRegistration,
  key: string,
): Promise<PushSubscription> {
  const existing = await registration.pushManager.getSubscription();
  // A subscription made with another server key (the data folder was reset) is useless.
  if (existing && sameKey(existing.options.applicationServerKey, key)) return existing;
  await existing?.unsubscribe();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${subscribeTimeoutMs / 1000} s`)),
          subscribeTimeoutMs,
        );
      }),
    ]);
  } catch (error) {
    throw new Error(
      `This browser could not subscribe at its push service (${reason(error)}). The browser must ` +
        "reach its vendor's push service (for Chromium, Google's), and allow push for this site.",
    );
  } finally {
    clearTimeout(timer);
  }
}

async function registerWithServer(
  token: string,
  deviceID: string,
  subscription: PushSubscription,
): Promise<void> {
  const response = await fetch("/api/me/push-registrations", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ deviceID, target: { provider: "webpush", ...subscription.toJSON() } }),
  });
  if (response.ok) return;
  const problem = (await response.json().catch(() => ({}))) as { detail?: unknown };
  const detail = typeof problem.detail === "string" ? problem.detail : `HTTP ${response.status}`;
  throw new Error(`The server did not take this browser's subscription: ${detail}.`);
}

/**
 * From a click (browsers ask for the permission only then): subscribes this browser and
 * registers the subscription for the user and device; resolves once the server has it.
 */
export async function enableWebPush(token: string, deviceID: string): Promise<void> {
  const unsupported = webPushUnsupported();
  if (unsupported) throw new Error(unsupported);
  const permission = await Notification.requestPermission();
  if (permission === "denied") {
    throw new Error(
      "Notifications are blocked for this site: allow them in the browser's site settings, then try again.",
    );
  }
  if (permission !== "granted") {
    throw new Error("Notifications were not allowed: click again and allow them when asked.");
  }
  const key = await vapidKey();
  const registration = await installWorker();
  const subscription = await subscribe(registration, key);
  await registerWithServer(token, deviceID, subscription);
}

/** What the service worker asks a tab to do after a click on a call's notification. */
export interface AnswerRequest {
  callID: string;
  caller: string | null;
  answer: "accept" | "decline" | null;
}

function answerOf(value: unknown): AnswerRequest["answer"] {
  return value === "accept" || value === "decline" ? value : null;
}

/** `?call=…&answer=accept` (a tab the service worker opened), removed from the address. */
export function answerFromURL(): AnswerRequest | null {
  const params = new URLSearchParams(location.search);
  const callID = params.get("call");
  if (!callID) return null;
  params.delete("call");
  const answer = answerOf(params.get("answer"));
  params.delete("answer");
  const query = params.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  return { callID, caller: null, answer };
}

/** Calls `handle` for each answer the service worker posts to this tab. */
export function listenForAnswers(handle: (request: AnswerRequest) => void): void {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.addEventListener("message", (event: MessageEvent) => {
    const data = event.data as {
      type?: unknown;
      callID?: unknown;
      caller?: unknown;
      answer?: unknown;
    };
    if (data?.type !== "beckon-answer" || typeof data.callID !== "string") return;
    handle({
      callID: data.callID,
      caller: typeof data.caller === "string" ? data.caller : null,
      answer: answerOf(data.answer),
    });
  });
  // Messages wait in a queue until the page says it listens.
  navigator.serviceWorker.startMessages();
}
