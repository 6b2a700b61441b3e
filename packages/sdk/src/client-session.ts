// The socket's life cycle for one device: login, the first session and its end, reconnect with
// full-jitter backoff and resume, events handed to listeners in order. BeckonClient adds the ZIM
// call methods on top; replies are matched in request-table.ts, the heartbeat is heartbeat.ts's,
// the stream position resume-cursor.ts's, what a close code means close-reasons.ts's.
import {
  type BeckonError,
  ConnectionEvent,
  ConnectionState,
  ErrorCode,
  isValidUserID,
  type LoginRequest,
  type LoginResult,
  PROTOCOL_VERSION,
} from "@beckon/protocol";
import { requireString } from "./argument-checks.js";
import { clampDelay } from "./background-timer.js";
import {
  asBeckonError,
  connectionLost,
  invalidParams,
  notLoggedIn,
  SessionClosedError,
  TimeoutError,
} from "./client-errors.js";
import type { BeckonEventName, BeckonListener } from "./client-events.js";
import {
  closeError,
  errorDetails,
  isRetriable,
  loginAborted,
  loginFailureEvent,
} from "./close-reasons.js";
import { resolveWebSocket } from "./default-web-socket.js";
import { randomDeviceID } from "./device-id.js";
import { Heartbeat } from "./heartbeat.js";
import { ListenerRegistry } from "./listener-registry.js";
import { OpenCalls } from "./open-calls.js";
import { ReceiptRetry } from "./receipt-retry.js";
import { type BackoffOptions, fullJitterDelay } from "./reconnect-backoff.js";
import {
  type ClientOperationName,
  type RequestOf,
  RequestTable,
  type ResultOf,
} from "./request-table.js";
import { ResumeCursor } from "./resume-cursor.js";
import { type ParsedServerFrame, parseServerFrame } from "./server-frame-parser.js";
import type { WebSocketConstructorLike, WebSocketLike } from "./web-socket-like.js";

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
const MAX_DEVICE_ID_LENGTH = 64;
const NORMAL_CLOSURE = 1000;

function positiveNumber(value: number | undefined, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fallback;
}

export abstract class ClientSession<Self> {
  readonly deviceID: string;
  private readonly url: string;
  private readonly webSocketOption: WebSocketConstructorLike | undefined;
  private readonly backoff: BackoffOptions;
  private readonly requestTimeoutMs: number;
  protected readonly listeners = new ListenerRegistry<Self>(this as unknown as Self);

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

  private readonly requests: RequestTable;
  /** Where this device's event stream stands, for resuming after a reconnect. */
  private readonly cursor = new ResumeCursor();
  protected readonly openCalls = new OpenCalls();
  private readonly receipts = new ReceiptRetry((callID) => this.sendOneWay("callAck", { callID }));

  private readonly heartbeat = new Heartbeat(
    () => this.sendOneWay("ping", { ack: this.cursor.seq }),
    (limitMs) => {
      if (this.socket) {
        this.handleSocketLost(
          this.socket,
          connectionLost(`no frame from the server for ${limitMs} ms`),
        );
      }
    },
  );
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
    this.requests = new RequestTable(this.requestTimeoutMs);
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

  on<K extends BeckonEventName>(event: K, listener: BeckonListener<Self, K>): void {
    if (!this.destroyed) this.listeners.add(event, listener);
  }

  /** Without a listener, removes all listeners of the event, as ZIM's `off(event)` does. */
  off<K extends BeckonEventName>(event: K, listener?: BeckonListener<Self, K>): void {
    this.listeners.remove(event, listener);
  }

  // ── Requests ───────────────────────────────────────────────────────────────────────────────

  /**
   * An app request: refused before login without touching the network; while (re)connecting it
   * waits for the socket, within the same timeout as the reply.
   */
  protected request<K extends ClientOperationName>(
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
    return this.requests.send(op, data, socket);
  }

  /** Frames whose replies nobody waits for (ping, callAck). */
  private sendOneWay<K extends ClientOperationName>(op: K, data: RequestOf<K>): number | null {
    return this.requests.sendOneWay(this.socket, op, data);
  }

  private settleReply(frame: Extract<ParsedServerFrame, { kind: "reply" }>): void {
    this.requests.settle(
      frame,
      // A receipt the server could not take is sent again; other one-way replies are ignored.
      (id, ok, code) => this.receipts.settle(id, ok, code),
      (error) => this.listeners.emit("error", error),
    );
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
    const resume = this.cursor.resumeFrom();
    if (resume) {
      request.resume = resume;
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
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
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
    // An error before the socket opened is a failed connection. Browsers and `ws` follow it with
    // a close event, but Node 22's built-in WebSocket fires none when the server cuts the
    // handshake, so a reconnect would wait out the whole open timeout. After the open, a close
    // always follows an error; the listener also keeps `ws` from throwing.
    socket.addEventListener("error", () => {
      if (!opened && this.socket === socket) {
        this.handleSocketLost(socket, connectionLost(`could not connect to ${this.url}`));
      }
    });
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
    if (this.socketReady) this.heartbeat.heard();
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
          const taken = this.cursor.take(frame.seq);
          // Replays overlap what already arrived: drop those, so the app sees each event once.
          if (taken === "repeat") return;
          // A hole means a frame was lost: resume from the last one we have, which replays it.
          if (taken === "gap") {
            if (this.socket) this.handleSocketLost(this.socket, connectionLost("event gap"));
            return;
          }
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
    const wasReconnect = this.cursor.started;
    // Not resumed: the server sends a fresh picture and counts from the start of the new epoch.
    const resumed = this.cursor.loggedIn(result);
    this.phase = "connected";
    this.socketReady = true;
    this.reconnectAttempt = 0;
    this.heartbeat.start(
      positiveNumber(result?.heartbeatIntervalMs, DEFAULT_HEARTBEAT_INTERVAL_MS),
    );
    // Flushed before Connected is emitted, so requests made by its listeners keep their order.
    this.requests.sendWaiting(socket);
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

  /** Forgets a socket: its waiters fail with `error`, and nothing it still emits counts. */
  private detachSocket(socket: WebSocketLike, error: BeckonError): void {
    if (this.socket === socket) {
      this.socket = null;
      this.socketReady = false;
      this.earlyFrames = [];
      this.heartbeat.stop();
    }
    if (this.openWaiter?.socket === socket) this.openWaiter.reject(error);
    // A retried request's reply may be lost while the server did it: it goes again, with its
    // key, once a new session is up (within its own timeout; a session that ends rejects it).
    this.requests.socketGone(socket, error, this.session !== null && !this.loggingOut);
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
    this.cursor.clear();
    this.openCalls.clear();
    this.reconnectAttempt = 0;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.socket) this.abandonSocket(this.socket, rejectWith);
    this.heartbeat.stop();
    this.requests.rejectAll(rejectWith);
    this.setState(ConnectionState.Disconnected, event, extendedData);
  }

  private setState(state: ConnectionState, event: ConnectionEvent, extendedData = ""): void {
    if (state === this.state) return;
    this.state = state;
    this.listeners.emit("connectionStateChanged", { state, event, extendedData });
  }
}
