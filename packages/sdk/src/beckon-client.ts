// One logged-in device over one WebSocket: the ZIM call API, automatic receipts, heartbeat,
// and reconnect (with resume) after a dropped socket.

import type {
  CallEndConfig,
  CallEndSentResult,
  CallingInvitationSentResult,
  CallingInviteConfig,
  CallJoinConfig,
  CallJoinSentResult,
  CallQuitConfig,
  CallQuitSentResult,
} from "@beckon/protocol";
import {
  BeckonError,
  type BeckonErrorInfo,
  type CallAcceptanceSentResult,
  type CallAcceptConfig,
  type CallCancelConfig,
  type CallCancelSentResult,
  type CallInvitationListQueriedResult,
  CallInvitationMode,
  type CallInvitationQueryConfig,
  type CallInvitationSentResult,
  type CallInviteConfig,
  type CallRejectConfig,
  type CallRejectionSentResult,
  type CallTimelineResult,
  CloseCode,
  ConnectionEvent,
  ConnectionState,
  ErrorCode,
  isValidUserID,
  type LoginRequest,
  type LoginResult,
  type OperationMap,
  PROTOCOL_VERSION,
} from "@beckon/protocol";
import {
  optionalConfig,
  pickDefined,
  requireString,
  requireStringList,
} from "./argument-checks.js";
import { clampDelay, unrefTimer } from "./background-timer.js";
import {
  asBeckonError,
  connectionLost,
  invalidParams,
  notLoggedIn,
  SessionClosedError,
  TimeoutError,
} from "./client-errors.js";
import type { BeckonEventName, BeckonListener, EventListeners } from "./client-events.js";
import { resolveWebSocket } from "./default-web-socket.js";
import { randomDeviceID } from "./device-id.js";
import { ListenerRegistry } from "./listener-registry.js";
import { OpenCalls } from "./open-calls.js";
import { ReceiptRetry } from "./receipt-retry.js";
import { type BackoffOptions, fullJitterDelay } from "./reconnect-backoff.js";
import { type ParsedServerFrame, parseServerFrame } from "./server-frame-parser.js";
import {
  SOCKET_OPEN,
  type WebSocketConstructorLike,
  type WebSocketLike,
} from "./web-socket-like.js";

export interface BeckonClientOptions {
  /** The server's WebSocket URL, e.g. `wss://calls.example.com/ws`. */
  url: string;
  /** Defaults to `globalThis.WebSocket`; the Node entry falls back to the `ws` package. */
  WebSocket?: WebSocketConstructorLike;
  /** Reconnect backoff: full jitter between 0 and min(maxDelayMs, minDelayMs·2^attempt). */
  reconnect?: { minDelayMs?: number; maxDelayMs?: number };
  /** How long a request may wait for its reply (including a reconnect); default 10 000. */
  requestTimeoutMs?: number;
  /** Stable device identity; random per instance by default. At most 64 characters. */
  deviceID?: string;
}

export interface LoginConfig {
  token: string;
  /** Accepted for ZIM compatibility; Beckon has no user profiles, so it is not sent. */
  userName?: string;
  /** Accepted for ZIM compatibility and ignored: Beckon always logs in online. */
  isOfflineLogin?: boolean;
}

export interface TokenRenewedResult {
  token: string;
}

export type BeckonClientEventHandler = EventListeners<BeckonClient>;

type ClientOperationMap = OperationMap;
type ClientOperationName = keyof ClientOperationMap;
type RequestOf<K extends ClientOperationName> = ClientOperationMap[K]["request"];
type ResultOf<K extends ClientOperationName> = ClientOperationMap[K]["result"];

interface PendingRequest {
  readonly op: ClientOperationName;
  /** Serialized once: sent now, or after the reconnect it waits for. */
  readonly frame: string;
  /** The socket it went out on; null while it waits for a logged-in socket. */
  socket: WebSocketLike | null;
  /**
   * Sent again on the next socket when its socket drops before the reply: its idempotency key
   * makes the server answer a retry with the first outcome.
   */
  readonly retried: boolean;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly resolve: (data: unknown) => void;
  readonly reject: (error: BeckonError) => void;
}

interface Session {
  readonly userID: string;
  token: string;
}

type Phase = "idle" | "connecting" | "connected" | "reconnecting";

type EventFrame = Exclude<ParsedServerFrame, { kind: "reply" }>;

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_MIN_DELAY_MS = 250;
const DEFAULT_MAX_DELAY_MS = 10_000;
const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
/** At most this is added to two silent heartbeat intervals before a socket counts as dead. */
const MAX_LIVENESS_SLACK_MS = 2_000;
const MAX_DEVICE_ID_LENGTH = 64;
const NORMAL_CLOSURE = 1000;

/** Close codes after which reconnecting would only be refused again. */
const finalCloseCodes = new Map<number, { event: ConnectionEvent; code: ErrorCode }>([
  [CloseCode.KickedOut, { event: ConnectionEvent.KickedOut, code: ErrorCode.UserIsNotLogged }],
  [CloseCode.TokenExpired, { event: ConnectionEvent.TokenExpired, code: ErrorCode.TokenExpired }],
  // The server ended this device's session (e.g. through its API): to the app that is a kick.
  [CloseCode.LoggedOut, { event: ConnectionEvent.KickedOut, code: ErrorCode.UserIsNotLogged }],
  [
    CloseCode.ProtocolError,
    { event: ConnectionEvent.LoginInterrupted, code: ErrorCode.ParamsInvalid },
  ],
]);

const retriableCodes: ReadonlySet<number> = new Set([
  ErrorCode.NetworkError,
  ErrorCode.ServerError,
  ErrorCode.ServerFrequencyLimit,
  ErrorCode.ServiceUnavailable,
  ErrorCode.ServerBusy,
]);

function positiveNumber(value: number | undefined, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
}

function errorDetails(error: BeckonErrorInfo): string {
  return JSON.stringify({ code: error.code, message: error.message });
}

function closeError(code: number, reason: string): BeckonError {
  const final = finalCloseCodes.get(code);
  const text = `the server closed the connection (${code}${reason ? `: ${reason}` : ""})`;
  return final ? new SessionClosedError(final.code, text, final.event) : connectionLost(text);
}

function loginFailureEvent(error: BeckonError): ConnectionEvent {
  if (error instanceof SessionClosedError) return error.event;
  if (error.code === ErrorCode.TokenInvalid || error.code === ErrorCode.TokenExpired) {
    return ConnectionEvent.TokenExpired;
  }
  if (error instanceof TimeoutError) return ConnectionEvent.LoginTimeout;
  return ConnectionEvent.LoginInterrupted;
}

function isRetriable(error: BeckonError): boolean {
  return !(error instanceof SessionClosedError) && retriableCodes.has(error.code);
}

function loginAborted(): BeckonError {
  return new BeckonError(ErrorCode.NetworkError, "login was aborted by logout() or destroy()");
}

export class BeckonClient {
  readonly deviceID: string;
  private readonly url: string;
  private readonly webSocketOption: WebSocketConstructorLike | undefined;
  private readonly backoff: BackoffOptions;
  private readonly requestTimeoutMs: number;
  private readonly listeners = new ListenerRegistry<BeckonClient>(this);

  private state = ConnectionState.Disconnected;
  private phase: Phase = "idle";
  private session: Session | null = null;
  /** Bumped whenever a session ends, so continuations of its login attempts stand down. */
  private generation = 0;
  private destroyed = false;
  private loggingOut = false;
  private firstLogin: Promise<void> | null = null;

  private socket: WebSocketLike | null = null;
  /** True once the login reply on `socket` has been handled; events before that wait. */
  private socketReady = false;
  private earlyFrames: EventFrame[] = [];
  private openWaiter: {
    socket: WebSocketLike;
    resolve: () => void;
    reject: (error: BeckonError) => void;
  } | null = null;

  private nextRequestID = 1;
  private readonly pending = new Map<number, PendingRequest>();

  // Where this device's event stream stands, for resuming after a reconnect.
  private epoch: string | null = null;
  private lastSeq = 0;
  private readonly openCalls = new OpenCalls();
  private readonly receipts = new ReceiptRetry((callID) => this.sendOneWay("callAck", { callID }));

  private heartbeatIntervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private livenessTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectAttempt = 0;

  constructor(options: BeckonClientOptions) {
    if (typeof options?.url !== "string" || options.url === "") {
      throw invalidParams("options.url (the server's WebSocket URL) is required");
    }
    const deviceID = options.deviceID ?? randomDeviceID();
    if (typeof deviceID !== "string" || deviceID === "" || deviceID.length > MAX_DEVICE_ID_LENGTH) {
      throw invalidParams(`options.deviceID must be 1–${MAX_DEVICE_ID_LENGTH} characters`);
    }
    this.url = options.url;
    this.deviceID = deviceID;
    this.webSocketOption = options.WebSocket;
    const minDelayMs = positiveNumber(options.reconnect?.minDelayMs, DEFAULT_MIN_DELAY_MS);
    this.backoff = {
      minDelayMs,
      maxDelayMs: Math.max(
        minDelayMs,
        positiveNumber(options.reconnect?.maxDelayMs, DEFAULT_MAX_DELAY_MS),
      ),
    };
    this.requestTimeoutMs = positiveNumber(options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS);
  }

  get connectionState(): ConnectionState {
    return this.state;
  }

  /** The user of the current session (also while connecting or reconnecting), else null. */
  get userID(): string | null {
    return this.session?.userID ?? null;
  }

  // ── Session ────────────────────────────────────────────────────────────────────────────────

  /**
   * Logs in. Again for the same user: resolves at once (while reconnecting, a new token is kept
   * for the next attempt). For another user: rejects with ParamsInvalid, because switching users
   * needs an explicit logout() so the server sees the first user leave.
   */
  login(userID: string, config: LoginConfig): Promise<void> {
    if (this.destroyed) return Promise.reject(invalidParams("this client was destroyed"));
    if (!isValidUserID(userID))
      return Promise.reject(invalidParams(`invalid userID: ${String(userID)}`));
    const token = config?.token;
    if (typeof token !== "string" || token === "") {
      return Promise.reject(invalidParams("config.token must be a non-empty string"));
    }
    if (this.session) {
      if (this.session.userID !== userID) {
        return Promise.reject(
          invalidParams(`already logged in as ${this.session.userID}; call logout() first`),
        );
      }
      if (this.phase === "connecting" && this.firstLogin) return this.firstLogin;
      if (this.phase === "reconnecting") this.session.token = token;
      return Promise.resolve();
    }
    this.session = { userID, token };
    this.phase = "connecting";
    const attempt = this.establishFirstSession(this.generation);
    this.firstLogin = attempt;
    // Emitted after the state is set up, so a listener may already call logout().
    this.setState(ConnectionState.Connecting, ConnectionEvent.ActiveLogin);
    return attempt;
  }

  /** Tells the server, then closes the socket for good. Never rejects. */
  async logout(): Promise<void> {
    if (!this.session) return;
    const generation = this.generation;
    const socket = this.socket;
    if (this.phase === "connected" && socket && !this.loggingOut) {
      this.loggingOut = true;
      try {
        await this.exchange(socket, "logout", {});
      } catch {
        // The session ends locally whatever the server said; its side times out the device.
      }
    }
    if (generation !== this.generation) return;
    this.endSession(ConnectionEvent.Success, "", notLoggedIn());
  }

  async renewToken(token: string): Promise<TokenRenewedResult> {
    await this.request("renewToken", () => ({ token: requireString(token, "token") }));
    // Reconnects must present the new token, or they would be refused once the old one expires.
    if (this.session) this.session.token = token;
    return { token };
  }

  /** Logs out if needed and drops every listener; the instance cannot be used again. */
  destroy(): Promise<void> {
    if (this.destroyed) return Promise.resolve();
    this.destroyed = true;
    if (this.session) {
      // No waiting for the reply: the logout frame still goes out ahead of the close frame.
      if (this.phase === "connected") this.sendOneWay("logout", {});
      this.endSession(ConnectionEvent.Success, "", notLoggedIn());
    }
    this.listeners.clear();
    return Promise.resolve();
  }

  on<K extends BeckonEventName>(event: K, listener: BeckonListener<BeckonClient, K>): void {
    if (!this.destroyed) this.listeners.add(event, listener);
  }

  /** Without a listener, removes all listeners of the event, as ZIM's `off(event)` does. */
  off<K extends BeckonEventName>(event: K, listener?: BeckonListener<BeckonClient, K>): void {
    this.listeners.remove(event, listener);
  }

  // ── Call API (ZIM argument order) ──────────────────────────────────────────────────────────

  callInvite(invitees: string[], config: CallInviteConfig): Promise<CallInvitationSentResult> {
    return this.request("callInvite", () => ({
      invitees: requireStringList(invitees, "invitees"),
      ...pickDefined(optionalConfig(config, "config"), [
        "timeout",
        "mode",
        "extendedData",
        "enableNotReceivedCheck",
        "pushConfig",
      ]),
      // One per invitation: a retry after a lost reply returns this call, not a second one.
      idempotencyKey: randomDeviceID(),
    }));
  }

  callCancel(
    invitees: string[],
    callID: string,
    config: CallCancelConfig,
  ): Promise<CallCancelSentResult> {
    return this.request("callCancel", () => ({
      invitees: requireStringList(invitees, "invitees"),
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData", "pushConfig"]),
    }));
  }

  callAccept(callID: string, config: CallAcceptConfig): Promise<CallAcceptanceSentResult> {
    return this.request("callAccept", () => ({
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData"]),
    }));
  }

  callReject(callID: string, config: CallRejectConfig): Promise<CallRejectionSentResult> {
    return this.request("callReject", () => ({
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData"]),
    }));
  }

  callingInvite(
    invitees: string[],
    callID: string,
    config: CallingInviteConfig,
  ): Promise<CallingInvitationSentResult> {
    return this.request("callingInvite", () => ({
      invitees: requireStringList(invitees, "invitees"),
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["pushConfig"]),
    }));
  }

  async callJoin(callID: string, config: CallJoinConfig): Promise<CallJoinSentResult> {
    const result = await this.request("callJoin", () => ({
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData"]),
    }));
    this.openCalls.open(result.callID, CallInvitationMode.Advanced, result.callUserList);
    return result;
  }

  callQuit(callID: string, config: CallQuitConfig): Promise<CallQuitSentResult> {
    return this.request("callQuit", () => ({
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData", "pushConfig"]),
    }));
  }

  callEnd(callID: string, config: CallEndConfig): Promise<CallEndSentResult> {
    return this.request("callEnd", () => ({
      callID: requireString(callID, "callID"),
      ...pickDefined(optionalConfig(config, "config"), ["extendedData", "pushConfig"]),
    }));
  }

  queryCallInvitationList(
    config: CallInvitationQueryConfig,
  ): Promise<CallInvitationListQueriedResult> {
    return this.request("queryCallInvitationList", () => {
      const query = optionalConfig(config, "config");
      if (typeof query.count !== "number") throw invalidParams("config.count must be a number");
      return { count: query.count, nextFlag: query.nextFlag ?? 0 };
    });
  }

  /**
   * A Beckon addition: the call's delivery timeline (per device: sent, received, pushed,
   * answered, in server time). For any member of the call; others get CallDoesNotExist.
   */
  callTimeline(callID: string): Promise<CallTimelineResult> {
    return this.request("callTimeline", () => ({ callID: requireString(callID, "callID") }));
  }

  // ── Requests ───────────────────────────────────────────────────────────────────────────────

  /**
   * An app request: refused before login without touching the network; while (re)connecting it
   * waits for the socket, within the same timeout as the reply.
   */
  private request<K extends ClientOperationName>(
    op: K,
    build: () => RequestOf<K>,
  ): Promise<ResultOf<K>> {
    if (!this.session || this.loggingOut) return Promise.reject(notLoggedIn());
    let data: RequestOf<K>;
    try {
      data = build();
    } catch (error) {
      return Promise.reject(asBeckonError(error));
    }
    const socket = this.phase === "connected" ? this.socket : null;
    return this.enqueue(op, data, socket);
  }

  /** A request on a given socket, bypassing the login gate (login and logout themselves). */
  private exchange<K extends ClientOperationName>(
    socket: WebSocketLike,
    op: K,
    data: RequestOf<K>,
  ): Promise<ResultOf<K>> {
    return this.enqueue(op, data, socket);
  }

  private enqueue<K extends ClientOperationName>(
    op: K,
    data: RequestOf<K>,
    socket: WebSocketLike | null,
  ): Promise<ResultOf<K>> {
    return new Promise<ResultOf<K>>((resolve, reject) => {
      const id = this.nextRequestID++;
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) {
          reject(new TimeoutError(`no reply to ${op} within ${this.requestTimeoutMs} ms`));
        }
      }, clampDelay(this.requestTimeoutMs));
      const request: PendingRequest = {
        op,
        frame: JSON.stringify({ id, op, data }),
        socket: null,
        retried: op === "callInvite",
        timer,
        resolve: resolve as (data: unknown) => void,
        reject,
      };
      this.pending.set(id, request);
      if (socket) this.transmitRequest(request, socket);
    });
  }

  private transmitRequest(request: PendingRequest, socket: WebSocketLike): void {
    request.socket = socket;
    // If the send fails the socket is on its way out; its close event rejects the request.
    this.transmit(socket, request.frame);
  }

  /** Frames whose replies nobody waits for (ping, callAck): an id the reply can carry, no entry. */
  private sendOneWay<K extends ClientOperationName>(op: K, data: RequestOf<K>): number | null {
    const socket = this.socket;
    if (!socket) return null;
    const id = this.nextRequestID++;
    this.transmit(socket, JSON.stringify({ id, op, data }));
    return id;
  }

  private transmit(socket: WebSocketLike, frame: string): void {
    if (socket.readyState !== SOCKET_OPEN) return;
    try {
      socket.send(frame);
    } catch {
      // Browsers throw on a socket that is closing; its close event does the cleanup.
    }
  }

  private settleReply(frame: Extract<ParsedServerFrame, { kind: "reply" }>): void {
    if (frame.id === null) {
      // A reply without an id is the server refusing a frame it could not read.
      if (!frame.ok) this.listeners.emit("error", frame.error);
      return;
    }
    const request = this.pending.get(frame.id);
    if (!request) {
      // A receipt the server could not take is sent again; other one-way replies are ignored.
      this.receipts.settle(frame.id, frame.ok, frame.ok ? undefined : frame.error.code);
      return;
    }
    this.pending.delete(frame.id);
    clearTimeout(request.timer);
    if (frame.ok) request.resolve(frame.data);
    else request.reject(new BeckonError(frame.error.code, frame.error.message));
  }

  // ── Connection ─────────────────────────────────────────────────────────────────────────────

  private async establishFirstSession(generation: number): Promise<void> {
    try {
      const { socket, result } = await this.connectAndLogin(generation);
      this.firstLogin = null;
      this.onLoggedIn(socket, result);
    } catch (error) {
      if (generation !== this.generation) throw loginAborted();
      const failure = asBeckonError(error);
      this.endSession(loginFailureEvent(failure), errorDetails(failure), failure);
      throw failure;
    }
  }

  private async connectAndLogin(
    generation: number,
  ): Promise<{ socket: WebSocketLike; result: LoginResult }> {
    const socket = this.openSocket();
    await this.waitForOpen(socket);
    const session = this.session;
    if (generation !== this.generation || !session) throw loginAborted();
    const request: LoginRequest = {
      protocolVersion: PROTOCOL_VERSION,
      userID: session.userID,
      token: session.token,
      deviceID: this.deviceID,
    };
    if (this.epoch !== null) {
      request.resume = { epoch: this.epoch, seq: this.lastSeq };
      request.openCalls = this.openCalls.ids();
    }
    const result = await this.exchange(socket, "login", request);
    if (generation !== this.generation) throw loginAborted();
    // The reply's continuation runs a tick later; the socket may have died in between.
    if (this.socket !== socket) throw connectionLost();
    return { socket, result };
  }

  private openSocket(): WebSocketLike {
    const Implementation = resolveWebSocket(this.webSocketOption);
    if (!Implementation) {
      throw invalidParams(
        "no WebSocket implementation: pass options.WebSocket or import the Node entry",
      );
    }
    if (this.socket) this.abandonSocket(this.socket, connectionLost(), true);
    let socket: WebSocketLike;
    try {
      socket = new Implementation(this.url);
    } catch (error) {
      throw invalidParams(
        `cannot open ${this.url}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    this.socket = socket;
    this.socketReady = false;
    this.earlyFrames = [];
    socket.addEventListener("open", () => {
      if (this.openWaiter?.socket === socket) this.openWaiter.resolve();
    });
    socket.addEventListener("message", (event) => this.onSocketMessage(socket, event.data));
    socket.addEventListener("close", (event) => {
      if (this.socket === socket) {
        // A reason the server gave (e.g. a reader too slow to keep) reaches the app.
        const told = event.reason ? JSON.stringify({ code: event.code, reason: event.reason }) : "";
        this.handleSocketLost(socket, closeError(event.code, event.reason), told);
      }
    });
    // A close event always follows an error; the listener exists so `ws` does not throw.
    socket.addEventListener("error", () => {});
    return socket;
  }

  private waitForOpen(socket: WebSocketLike): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.abandonSocket(
          socket,
          new TimeoutError(`could not connect within ${this.requestTimeoutMs} ms`),
          true,
        );
      }, clampDelay(this.requestTimeoutMs));
      const settle = () => {
        clearTimeout(timer);
        if (this.openWaiter?.socket === socket) this.openWaiter = null;
      };
      this.openWaiter = {
        socket,
        resolve: () => {
          settle();
          resolve();
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
    });
  }

  private onSocketMessage(socket: WebSocketLike, raw: unknown): void {
    if (socket !== this.socket) return;
    if (this.socketReady) this.armLivenessTimer(socket);
    const frame = parseServerFrame(raw);
    if (!frame) return;
    if (frame.kind === "reply") this.settleReply(frame);
    else if (this.socketReady) this.handleEvent(frame);
    // Events that overtake the login reply's continuation wait for it, so the app sees
    // Connected first and the resume position is set before they count.
    else this.earlyFrames.push(frame);
  }

  private handleEvent(frame: EventFrame): void {
    switch (frame.kind) {
      case "callEvent":
        if (frame.seq !== null) {
          // Replays overlap what already arrived: drop those, so the app sees each event once.
          if (frame.seq <= this.lastSeq) return;
          // A hole means a frame was lost: resume from the last one we have, which replays it.
          if (frame.seq > this.lastSeq + 1) {
            if (this.socket) this.handleSocketLost(this.socket, connectionLost("event gap"));
            return;
          }
          this.lastSeq = frame.seq;
        }
        // The receipt goes out before any listener runs: it must not depend on the app.
        if (frame.name === "callInvitationReceived") this.receipts.receipt(frame.data.callID);
        // A repeat (a resync's picture of a call shown already) is followed but not shown.
        if (this.session && !this.openCalls.observe(frame.name, frame.data, this.session.userID))
          return;
        this.listeners.emit(frame.name, frame.data);
        return;
      case "tokenWillExpire":
        this.listeners.emit("tokenWillExpire", { second: frame.second });
        return;
      case "kicked":
        // The server closes the socket next; reconnecting would only kick another device.
        this.endSession(
          frame.event,
          JSON.stringify({ reason: frame.reason }),
          new SessionClosedError(
            ErrorCode.UserIsNotLogged,
            `logged out by the server: ${frame.reason}`,
            frame.event,
          ),
        );
        return;
    }
  }

  private onLoggedIn(socket: WebSocketLike, result: LoginResult): void {
    const epoch = typeof result?.epoch === "string" ? result.epoch : null;
    const wasReconnect = this.epoch !== null;
    const resumed = result?.resumed === true && epoch !== null && epoch === this.epoch;
    // Not resumed: the server sends a fresh picture and counts from the start of the new epoch.
    if (!resumed) this.lastSeq = 0;
    this.epoch = epoch;
    this.heartbeatIntervalMs = positiveNumber(
      result?.heartbeatIntervalMs,
      DEFAULT_HEARTBEAT_INTERVAL_MS,
    );
    this.phase = "connected";
    this.socketReady = true;
    this.reconnectAttempt = 0;
    this.startHeartbeat(socket);
    // Flushed before Connected is emitted, so requests made by its listeners keep their order.
    for (const request of this.pending.values()) {
      if (request.socket === null) this.transmitRequest(request, socket);
    }
    // After a reconnect the app learns whether it missed nothing (resumed) or got a resync.
    this.setState(
      ConnectionState.Connected,
      ConnectionEvent.Success,
      wasReconnect ? JSON.stringify({ resumed }) : "",
    );
    const early = this.earlyFrames;
    this.earlyFrames = [];
    for (const frame of early) {
      if (this.socket !== socket) break;
      this.handleEvent(frame);
    }
  }

  private startHeartbeat(socket: WebSocketLike): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(
      () => this.sendOneWay("ping", { ack: this.lastSeq }),
      clampDelay(this.heartbeatIntervalMs),
    );
    unrefTimer(this.heartbeatTimer);
    this.armLivenessTimer(socket);
  }

  private armLivenessTimer(socket: WebSocketLike): void {
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    // Two intervals as SPEC §5 says, plus room for one round trip.
    const interval = this.heartbeatIntervalMs;
    const limit = 2 * interval + Math.min(MAX_LIVENESS_SLACK_MS, interval / 2);
    this.livenessTimer = setTimeout(() => {
      this.livenessTimer = undefined;
      this.handleSocketLost(socket, connectionLost(`no frame from the server for ${limit} ms`));
    }, clampDelay(limit));
    unrefTimer(this.livenessTimer);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    if (this.livenessTimer !== undefined) clearTimeout(this.livenessTimer);
    this.heartbeatTimer = undefined;
    this.livenessTimer = undefined;
  }

  /** Forgets a socket: its waiters fail with `error`, and nothing it still emits counts. */
  private detachSocket(socket: WebSocketLike, error: BeckonError): void {
    if (this.socket === socket) {
      this.socket = null;
      this.socketReady = false;
      this.earlyFrames = [];
      this.stopHeartbeat();
    }
    if (this.openWaiter?.socket === socket) this.openWaiter.reject(error);
    for (const [id, request] of this.pending) {
      if (request.socket !== socket) continue;
      // Its reply may be lost while the server did it: it goes again, with its key, once a
      // new session is up (within its own timeout; a session that ends rejects it).
      if (request.retried && this.session && !this.loggingOut) {
        request.socket = null;
        continue;
      }
      this.pending.delete(id);
      clearTimeout(request.timer);
      request.reject(error);
    }
  }

  /**
   * Detaches and closes a socket. `dead` sockets are terminated where possible: `ws` would
   * otherwise wait 30 s for a close handshake, keeping a Node process alive.
   */
  private abandonSocket(socket: WebSocketLike, error: BeckonError, dead = false): void {
    this.detachSocket(socket, error);
    try {
      if (dead && typeof socket.terminate === "function") socket.terminate();
      else socket.close(NORMAL_CLOSURE);
    } catch {
      // Already closed, or an implementation that refuses to close while connecting.
    }
  }

  /** The current socket died (closed, or silent too long). */
  private handleSocketLost(socket: WebSocketLike, error: BeckonError, extendedData = ""): void {
    if (socket !== this.socket) return;
    const wasConnected = this.phase === "connected";
    this.abandonSocket(socket, error, true);
    // During a login attempt the rejected waiters report the failure to the attempt itself.
    if (!wasConnected || this.loggingOut) return;
    if (error instanceof SessionClosedError) {
      this.endSession(error.event, errorDetails(error), error);
      return;
    }
    this.startReconnect(extendedData);
  }

  private startReconnect(extendedData = ""): void {
    this.phase = "reconnecting";
    this.scheduleReconnect();
    this.setState(ConnectionState.Reconnecting, ConnectionEvent.LoginInterrupted, extendedData);
  }

  private scheduleReconnect(): void {
    const generation = this.generation;
    const delay = fullJitterDelay(this.reconnectAttempt++, this.backoff);
    // Not unref'ed: a logged-in client is meant to keep the process alive while it reconnects.
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect(generation);
    }, clampDelay(delay));
  }

  private async reconnect(generation: number): Promise<void> {
    try {
      const { socket, result } = await this.connectAndLogin(generation);
      this.onLoggedIn(socket, result);
    } catch (error) {
      if (generation !== this.generation) return;
      const failure = asBeckonError(error);
      if (isRetriable(failure)) {
        // A login that timed out may still succeed on the server; this socket must not linger.
        if (this.socket) this.abandonSocket(this.socket, failure, true);
        this.scheduleReconnect();
        return;
      }
      this.endSession(loginFailureEvent(failure), errorDetails(failure), failure);
    }
  }

  /** Ends the session for good: no socket, no timers, no waiting requests. */
  private endSession(event: ConnectionEvent, extendedData: string, rejectWith: BeckonError): void {
    this.generation++;
    this.receipts.clear();
    this.session = null;
    this.phase = "idle";
    this.loggingOut = false;
    this.firstLogin = null;
    this.epoch = null;
    this.lastSeq = 0;
    this.openCalls.clear();
    this.reconnectAttempt = 0;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.socket) this.abandonSocket(this.socket, rejectWith);
    this.stopHeartbeat();
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(rejectWith);
    }
    this.pending.clear();
    this.setState(ConnectionState.Disconnected, event, extendedData);
  }

  private setState(state: ConnectionState, event: ConnectionEvent, extendedData = ""): void {
    if (state === this.state) return;
    this.state = state;
    this.listeners.emit("connectionStateChanged", { state, event, extendedData });
  }
}
