// The WebSocket front door, transport only: parses frames, charges them to budgets, holds back
// a socket that does not drain, and writes. Logins, token expiry and kicks are the local
// sessions' (session/), every call read and rule the call service's.
import { actorOf } from "@beckon/engine";
import {
  BeckonError,
  ErrorCode,
  type LoginRequest,
  type OperationMap,
  type OperationName,
  type ReplyFrame,
  type ServerFrame,
} from "@beckon/protocol";
import { isOperationName, requestEnvelopeSchema, requestSchemas } from "@beckon/protocol/schemas";
import type { Logger } from "pino";
import type { RawData, WebSocket } from "ws";
import type { Admission } from "../admission/admission.js";
import type { CallService } from "../call-service.js";
import { clampDelay } from "../long-timeout.js";
import type { BeckonMetrics } from "../metrics.js";
import type { RateLimits } from "../rate-limits/rate-limits.js";
import { TokenBucket } from "../rate-limits/token-bucket.js";
import type { DeviceLink } from "../session/device-link.js";
import type { LocalSession, LocalSessions } from "../session/local-sessions.js";
import { StoreHealth } from "../store-health.js";
import { ConnectionGuard } from "./connection-guard.js";
import { FrameBudget, TOO_MANY_FRAMES_CLOSE_CODE } from "./frame-budget.js";
import {
  closeInSlices,
  closeSocket,
  DEFAULT_SLOW_READER_MS,
  drained,
  GOING_AWAY_CLOSE_CODE,
  HIGH_WATER_BYTES,
  MAX_BUFFERED_BYTES,
  rawSocketOf,
  releaseWrites,
  type SendState,
  SLOW_READER_CLOSE_CODE,
  SlowReaderWatch,
  WriteCoalescer,
} from "./socket-writer.js";

export interface GatewaySettings {
  heartbeatIntervalMs: number;
  loginTimeoutMs: number;
  rateLimit: { burst: number; perSecond: number };
  /** A socket that drains nothing of its backlog for this long is closed with 4005. */
  slowReaderMs?: number;
}

/** How long a node going away waits for its sockets to take their last frames. */
const SHUTDOWN_GRACE_MS = 1_000;

/** One socket, before and after login. */
interface Connection {
  socket: WebSocket;
  lastSeen: number;
  bucket: TokenBucket;
  /** Every frame is charged here before it is parsed. */
  frames: FrameBudget;
  device: LocalSession | null;
  loggingIn: boolean;
  link: DeviceLink<LocalSession>;
  send: SendState;
  /**
   * Set while the socket has more unsent than HIGH_WATER_BYTES: it is not read, and the frames
   * already read wait here (heartbeats excepted) until it has drained.
   */
  waiting: string[] | null;
}

type Handler<K extends OperationName> = (
  device: LocalSession,
  data: OperationMap[K]["request"],
) => Promise<OperationMap[K]["result"]>;

/** Silent sockets ended per event-loop turn by the sweep. */
const SWEEP_SLICE = 200;

/** `{"id":N,"op":"ping","data":{"ack":M}}` or without `ack`: heartbeats skip JSON and schemas. */
const PING = /^\{"id":(\d{1,15}),"op":"ping","data":\{(?:"ack":(\d{1,15}))?\}\}$/;

export class Gateway {
  private readonly connections = new Set<Connection>();
  private readonly coalescer = new WriteCoalescer();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly guard: ConnectionGuard;
  private readonly slowReaders: SlowReaderWatch;
  /** Named store failures (a full disk), for replies and /readyz. */
  readonly storeHealth = new StoreHealth();
  constructor(
    private readonly settings: GatewaySettings,
    private readonly sessions: LocalSessions,
    private readonly calls: CallService,
    private readonly limits: RateLimits,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
    private readonly metrics?: Pick<BeckonMetrics, "onSocketClosed">,
    /** Refuses new invitations while the node is past its load bound; none without it. */
    private readonly admission?: Admission,
  ) {
    this.sweepTimer = setInterval(() => this.sweep(), clampDelay(settings.heartbeatIntervalMs));
    this.sweepTimer.unref();
    this.guard = new ConnectionGuard(
      settings.loginTimeoutMs,
      (count) => log.info({ count }, "closed sockets that did not log in in time"),
      clock,
    );
    const slowReaderMs = settings.slowReaderMs ?? DEFAULT_SLOW_READER_MS;
    this.slowReaders = new SlowReaderWatch(
      slowReaderMs,
      (state) => this.tooSlow(state.socket, `nothing drained for ${slowReaderMs} ms`),
      clock,
    );
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Logged-in devices with their socket on this node. */
  get deviceCount(): number {
    return this.sessions.count;
  }

  /** Users with a socket on this node, up to `limit` (a development aid, not a hot path). */
  onlineUsers(limit: number): string[] {
    return this.sessions.onlineUsers(limit);
  }

  /** Why a new socket from `remoteAddress` must be refused now, or null. */
  refuseSocket(remoteAddress: string): string | null {
    return this.guard.refusal(remoteAddress);
  }

  accept(socket: WebSocket, remoteAddress = ""): void {
    const now = this.clock();
    const { burst, perSecond } = this.settings.rateLimit;
    const connection: Connection = {
      socket,
      lastSeen: now,
      bucket: new TokenBucket(burst, perSecond, now),
      frames: new FrameBudget(this.settings.rateLimit, now),
      device: null,
      loggingIn: false,
      send: { socket, written: 0, drainedMark: 0, progressAt: now, watched: false },
      waiting: null,
    } as Omit<Connection, "link"> as Connection;
    connection.link = this.linkOf(connection);
    this.connections.add(connection);
    this.guard.opened(socket, remoteAddress);
    socket.on("message", (raw, isBinary) => this.onFrame(connection, raw, isBinary));
    socket.on("close", () => this.onClose(connection));
    socket.on("error", (error) => this.log.debug({ err: error }, "socket error"));
  }

  /**
   * Stops serving: every socket gets what was written to it (this turn's frames included) and a
   * close (1001, the SDK reconnects), and is cut after a short grace if its peer does not answer.
   */
  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.guard.stop();
    this.slowReaders.stop();
    this.sessions.close();
    const sockets = [...this.connections].map((connection) => connection.socket);
    const closed = sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          if (socket.readyState === socket.CLOSED) resolve();
          else socket.once("close", () => resolve());
        }),
    );
    closeInSlices(sockets, GOING_AWAY_CLOSE_CODE, "the server is shutting down", SHUTDOWN_GRACE_MS);
    await Promise.all(closed);
  }

  /** Drops every socket, the server staying up: this node cannot serve them now (no Redis). */
  shed(): void {
    for (const connection of this.connections) this.terminate(connection);
  }

  /** What the sessions get of a socket: writes under this gateway's policy, and its close. */
  private linkOf(connection: Connection): DeviceLink<LocalSession> {
    const { socket } = connection;
    return {
      isOpen: () => socket.readyState === socket.OPEN,
      send: (frame) => this.reply(connection, frame),
      write: (text) => this.write(connection, text),
      backlog: () => (socket.bufferedAmount > HIGH_WATER_BYTES ? drained(socket) : null),
      close: (code, reason) => socket.close(code, reason),
      terminate: () => this.terminate(connection),
      attach: (session) => {
        connection.device = session;
        this.guard.settled(socket);
      },
      detach: (session) => {
        if (connection.device === session) connection.device = null;
      },
    };
  }

  /** Drops sockets that went silent for two heartbeats, or never logged in. */
  private sweep(): void {
    const now = this.clock();
    const silentSince = now - 2 * this.settings.heartbeatIntervalMs;
    const silent: WebSocket[] = [];
    for (const connection of this.connections) {
      if (connection.lastSeen < silentSince) silent.push(connection.socket);
    }
    // Sockets that never logged in are the connection guard's: each has its own deadline.
    // What was written to a silent socket still leaves: it may only have been slow to answer.
    let next = 0;
    const slice = () => {
      const end = Math.min(next + SWEEP_SLICE, silent.length);
      for (; next < end; next++) {
        const socket = silent[next];
        if (socket) this.endSilent(socket);
      }
      if (next < silent.length) setImmediate(slice);
    };
    slice();
  }

  /**
   * A silent socket goes at once, after what it was written is handed to the kernel (which
   * sends it before the FIN); only what the kernel cannot take yet is given the close's grace.
   */
  private endSilent(socket: WebSocket): void {
    releaseWrites(socket);
    const raw = rawSocketOf(socket);
    if (raw && raw.writableLength > 0) {
      closeSocket(socket, GOING_AWAY_CLOSE_CODE, "silent for two heartbeat intervals");
    } else socket.terminate();
  }

  /** Closes a socket that does not read what it is sent (4005: the SDK resumes after it). */
  private tooSlow(socket: WebSocket, why: string): void {
    if (socket.readyState !== socket.OPEN) return;
    this.metrics?.onSocketClosed("slow_reader");
    closeSocket(socket, SLOW_READER_CLOSE_CODE, `too slow to read: ${why}`);
  }

  /** Drops the socket at once, after handing over what this turn already wrote to it. */
  private terminate(connection: Connection): void {
    releaseWrites(connection.socket);
    connection.socket.terminate();
  }

  /**
   * Every write goes through here: one send-buffer policy per socket, and the frames one callback
   * causes for a socket leave in one write. A large burst is fine for a peer that drains it; one
   * that drains nothing for a while is closed (SlowReaderWatch), and past the hard cap at once.
   */
  private write(connection: Connection, text: string): void {
    const { socket } = connection;
    if (socket.readyState !== socket.OPEN) return;
    const bytes = Buffer.byteLength(text);
    if (socket.bufferedAmount + bytes > MAX_BUFFERED_BYTES) {
      this.tooSlow(socket, `over ${MAX_BUFFERED_BYTES} bytes unsent`);
      return;
    }
    const raw = rawSocketOf(socket);
    if (raw) this.coalescer.hold(raw);
    socket.send(text);
    connection.send.written += bytes;
    this.slowReaders.wrote(connection.send);
    if (connection.waiting === null && socket.bufferedAmount > HIGH_WATER_BYTES) {
      this.holdRequests(connection);
    }
  }

  /** Stops reading the socket until what it was sent has drained; its requests wait. */
  private holdRequests(connection: Connection): void {
    connection.waiting = [];
    connection.socket.pause();
    void drained(connection.socket).then(() => this.releaseRequests(connection));
  }

  private releaseRequests(connection: Connection): void {
    const { socket } = connection;
    const waiting = connection.waiting ?? [];
    connection.waiting = null;
    if (socket.readyState === socket.OPEN) socket.resume();
    // In arrival order; one may fill the buffer again, and the rest wait once more.
    for (const [index, text] of waiting.entries()) {
      // Set again by a reply that filled the buffer: the rest wait behind it.
      const again = connection.waiting as string[] | null;
      if (again) {
        again.push(...waiting.slice(index));
        return;
      }
      this.onText(connection, text);
    }
  }

  private reply(connection: Connection, frame: ReplyFrame | ServerFrame): void {
    this.write(connection, JSON.stringify(frame));
  }

  private fail(connection: Connection, id: number | null, code: ErrorCode, message: string): void {
    this.reply(connection, { id, ok: false, error: { code, message } });
  }

  private onFrame(connection: Connection, raw: RawData, isBinary: boolean): void {
    // A socket being closed (too slow, flooding, kicked, logged out) runs none of its frames.
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    connection.lastSeen = this.clock();
    const charge = connection.frames.charge(connection.lastSeen);
    if (charge !== "ok") {
      if (charge === "close") {
        this.metrics?.onSocketClosed("flooding");
        closeSocket(connection.socket, TOO_MANY_FRAMES_CLOSE_CODE, "too many frames");
      }
      return;
    }
    if (isBinary) {
      this.fail(connection, null, ErrorCode.ParamsInvalid, "binary frames are not supported");
      return;
    }
    const text = raw.toString();
    const ping = connection.device ? PING.exec(text) : null;
    if (ping && connection.device) {
      this.heartbeat(connection, connection.device, Number(ping[1]), ping[2]);
      return;
    }
    if (connection.waiting) connection.waiting.push(text);
    else this.onText(connection, text);
  }

  /** A text frame within the socket's budgets, other than a heartbeat. */
  private onText(connection: Connection, text: string): void {
    if (connection.socket.readyState !== connection.socket.OPEN) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.fail(connection, null, ErrorCode.ParamsInvalid, "the frame is not JSON");
      return;
    }
    const envelope = requestEnvelopeSchema.safeParse(parsed);
    if (!envelope.success) {
      const id = (parsed as { id?: unknown } | null)?.id;
      this.fail(
        connection,
        typeof id === "number" && Number.isSafeInteger(id) && id >= 0 ? id : null,
        ErrorCode.ParamsInvalid,
        "a request is {id, op, data}",
      );
      return;
    }
    const { id, op, data } = envelope.data;
    const allowed = this.mayRequest(connection, op);
    if (allowed === true) this.request(connection, id, op, data);
    else if (allowed === false) this.tooMany(connection, id);
    else {
      const { socket } = connection;
      allowed.then(
        (ok) => {
          if (socket.readyState !== socket.OPEN) return;
          if (ok) this.request(connection, id, op, data);
          else this.tooMany(connection, id);
        },
        (error: unknown) => {
          if (socket.readyState !== socket.OPEN) return;
          // A budget that cannot be checked lets the request through: never refuse all.
          this.log.warn({ err: error }, "rate limit check failed");
          this.request(connection, id, op, data);
        },
      );
    }
  }

  private tooMany(connection: Connection, id: number): void {
    this.fail(connection, id, ErrorCode.ServerFrequencyLimit, "too many requests");
  }

  /** A request within its budgets: checked against its operation's schema, then run. */
  private request(connection: Connection, id: number, op: string, data: unknown): void {
    if (!isOperationName(op)) {
      this.fail(connection, id, ErrorCode.ParamsInvalid, `unknown operation "${op}"`);
      return;
    }
    const args = requestSchemas[op].safeParse(data ?? {});
    if (!args.success) {
      const issue = args.error.issues[0];
      const where = issue?.path.join(".") || "data";
      this.fail(
        connection,
        id,
        ErrorCode.ParamsInvalid,
        `${op}: ${where}: ${issue?.message ?? "invalid"}`,
      );
      return;
    }
    void this.dispatch(connection, id, op, args.data);
  }

  /**
   * Receipts are never refused here: a lost receipt leaves an invitee ringing as not received.
   * The frame budget, charged before parsing, still bounds them. Heartbeats and logins spend
   * only the socket's budget here (logins have their own per user), so neither waits on Redis.
   */
  private mayRequest(connection: Connection, op: string): boolean | Promise<boolean> {
    if (op === "callAck") return true;
    if (!connection.bucket.take(this.clock())) return false;
    const userID = connection.device?.userID;
    if (userID === undefined || op === "ping" || op === "login") return true;
    return this.limits.take("requests", userID);
  }

  /** A heartbeat: acknowledges the stream and answers with a fixed frame, no JSON built. */
  private heartbeat(connection: Connection, device: LocalSession, id: number, ack?: string) {
    if (ack !== undefined) {
      this.sessions
        .acknowledge(device, Number(ack))
        .catch((error: unknown) => this.log.warn({ err: error }, "acknowledge failed"));
    }
    this.write(connection, `{"id":${id},"ok":true,"data":{"serverTime":${this.clock()}}}`);
  }

  private async dispatch(
    connection: Connection,
    id: number,
    op: OperationName,
    data: unknown,
  ): Promise<void> {
    try {
      if (op === "login") {
        await this.login(connection, id, data as LoginRequest);
        return;
      }
      const { device } = connection;
      if (!device) throw new BeckonError(ErrorCode.UserIsNotLogged, "log in first");
      const handler = this.handlers[op] as Handler<typeof op>;
      const result = await handler(device, data as never);
      // The receipt is one-way: the SDK ignores its reply, so a success sends none.
      if (op === "callAck") return;
      this.reply(connection, { id, ok: true, data: result });
    } catch (error) {
      if (error instanceof BeckonError) {
        this.fail(connection, id, error.code, error.message);
      } else {
        const reported = this.storeHealth.clientErrorFor(error);
        this.log.error({ err: error, op, reported: reported.message }, "request failed");
        this.fail(connection, id, reported.code, reported.message);
      }
    }
  }

  /** A login: one per socket, run by the local sessions. */
  private async login(connection: Connection, id: number, request: LoginRequest): Promise<void> {
    if (connection.device || connection.loggingIn) {
      throw new BeckonError(ErrorCode.ParamsInvalid, "this connection is already logged in");
    }
    connection.loggingIn = true;
    try {
      await this.sessions.login(connection.link, id, request);
    } finally {
      connection.loggingIn = false;
    }
  }

  private onClose(connection: Connection): void {
    this.connections.delete(connection);
    this.slowReaders.forget(connection.send);
    connection.waiting = null;
    this.guard.settled(connection.socket);
    const { device } = connection;
    if (device) this.sessions.socketClosed(device);
  }

  private readonly handlers: { [K in Exclude<OperationName, "login">]: Handler<K> } = {
    logout: async (device) => {
      await this.sessions.logout(device);
      return {};
    },
    renewToken: async (device, { token }) => ({
      tokenExpiresAt: await this.sessions.renew(device, token),
    }),
    ping: async (device, { ack }) => {
      if (ack !== undefined) await this.sessions.acknowledge(device, ack);
      return { serverTime: this.clock() };
    },
    callInvite: async (device, { idempotencyKey, ...request }) => {
      const invite = () =>
        this.calls.invite({ ...request, actor: actorOf(device) }, idempotencyKey);
      return this.admission ? this.admission.invitation("callInvite", invite) : invite();
    },
    callCancel: async (device, { callID, ...rest }) =>
      this.calls.execute(callID, { type: "cancel", actor: actorOf(device), ...rest }),
    callAccept: async (device, { callID, extendedData }) =>
      this.calls.execute(callID, { type: "accept", actor: actorOf(device), extendedData }),
    callReject: async (device, { callID, extendedData }) =>
      this.calls.execute(callID, { type: "reject", actor: actorOf(device), extendedData }),
    callingInvite: async (device, { callID, invitees, pushConfig }) =>
      this.calls.inviteMore(callID, {
        type: "callingInvite",
        actor: actorOf(device),
        invitees,
        pushConfig,
      }),
    callJoin: async (device, { callID, extendedData }) =>
      this.calls.execute(callID, { type: "join", actor: actorOf(device), extendedData }),
    callQuit: async (device, { callID, ...rest }) =>
      this.calls.execute(callID, { type: "quit", actor: actorOf(device), ...rest }),
    callEnd: async (device, { callID, ...rest }) =>
      this.calls.execute(callID, { type: "end", actor: actorOf(device), ...rest }),
    callAck: async (device, { callID }) => {
      await this.calls.execute(callID, { type: "receipt", actor: actorOf(device) });
      return {};
    },
    queryCallInvitationList: async (device, { count, nextFlag }) =>
      this.calls.callList(device.userID, count, nextFlag),
    callTimeline: async (device, { callID }) => this.calls.memberTimeline(callID, device.userID),
  };
}
