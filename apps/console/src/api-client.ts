// The console's only way to the server: the public server API under /api, authenticated by the
// session cookie the sign-in set (sent by the browser, never read by this code). Actions carry
// the header that proves they come from this page (the CSRF defence).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Called when the session ended (401): the app shows the sign-in again. */
let onSignedOut: () => void = () => {};
export function whenSignedOut(listener: () => void): void {
  onSignedOut = listener;
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; quiet401?: boolean } = {},
): Promise<T> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") headers["x-beckon-console"] = "1";
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`../api${path}`, {
    method,
    headers,
    credentials: "same-origin",
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  if (response.status === 204) return undefined as T;
  const body = (await response.json().catch(() => ({}))) as { detail?: string };
  if (!response.ok) {
    if (response.status === 401 && !init.quiet401) onSignedOut();
    throw new ApiError(response.status, body.detail ?? `the server answered ${response.status}`);
  }
  return body as T;
}

// The shapes the console reads (see the server's OpenAPI document at /api/openapi.json).

export interface Session {
  keyID: string;
  keyName: string;
  scopes: string[];
  actions: boolean;
  expiresAt: number;
}

export interface CallSummary {
  callID: string;
  caller: string;
  mode: number;
  state: number;
  createTime: number;
  endTime: number;
  version: number;
  members: Array<{ userID: string; state: number }>;
}

export interface Snapshot {
  at: number;
  devicesOnline: number;
  nodes: Array<{
    nodeID: string;
    devicesOnline: number;
    rings: number;
    delivered: number;
    shed: number;
  }>;
  minutes: Array<{ at: number; rings: number; p50: number | null; p99: number | null }>;
  rings: number;
  latency: { p50: number | null; p99: number | null; count: number };
  shed: number | null;
  calls: { ringing: number; started: number };
  failed: { pushes: number; webhooks: number } | null;
  liveCalls: CallSummary[];
}

export interface DevicePush {
  kind: string;
  status: string;
  provider: string;
  queuedAt: number;
  doneAt: number;
  httpStatus: number;
  reason: string;
}

export interface CallDetail {
  callID: string;
  caller: string;
  mode: number;
  state: number;
  createTime: number;
  endTime: number;
  timeout: number;
  extendedData: string;
  members: Array<{
    userID: string;
    state: number;
    inviter: string;
    inviteTime: number;
    deadline: number;
    acceptTime: number;
    quitTime: number;
    mainDevice: string | null;
  }>;
  devices: Array<{
    userID: string;
    deviceID: string;
    sentAt?: number;
    receivedAt?: number;
    pushes: DevicePush[];
    answers: Array<{ kind: string; at: number }>;
  }>;
  timeline: TimelineItem[];
}

export interface TimelineItem {
  at: number;
  kind: string;
  userID?: string;
  deviceID?: string;
  detail: Record<string, unknown>;
}

export interface UserDevices {
  userID: string;
  devices: Array<{
    deviceID: string;
    online: boolean;
    nodeID: string;
    loginTime: number;
    awaySince: number;
    platform: string;
    pushRegistrations: Array<{ id: string; provider: string; createdAt: number }>;
  }>;
  offlineRegistrations: Array<{
    id: string;
    deviceID: string;
    provider: string;
    createdAt: number;
  }>;
}

export interface UserCalls {
  callList: Array<{
    callID: string;
    caller: string;
    createTime: number;
    endTime: number;
    state: number;
    mode: number;
    callUserList: Array<{ userID: string; state: number }>;
  }>;
  nextFlag: number;
}

export interface Integrations {
  since: number;
  webhooks: Array<{
    id: string;
    url: string;
    description: string;
    state: "live" | "paused";
    pausedUntil: number;
    queueDepth: number;
    delivered: number;
    dead: number;
    lastError: { at: number; httpStatus: number; error: string } | null;
  }>;
  push: Array<{
    provider: string;
    configured: boolean;
    sent: number;
    failed: number;
    expired: number;
    queued: number;
  }>;
}

export interface WebhookDeliveries {
  deliveries: Array<{
    id: string;
    endpointID: string;
    type: string;
    status: string;
    attempts: number;
    createdAt: number;
    lastStatus: number;
    lastError: string;
  }>;
  next: string | null;
}
