// The WebSocket front door: validates frames, authenticates devices, turns requests into call
// commands and delivers decided events to the devices on this node.
import type { Actor } from "@beckon/engine";
import { callInfoFor, checkCallListQuery, closingEventFor, pictureFor } from "@beckon/engine";
import {
  BeckonError,
  type CallEvent,
  CloseCode,
  ConnectionEvent,
  ErrorCode,
  isValidUserID,
  type LoginRequest,
  type LoginResult,
  type OperationMap,
  type OperationName,
  PROTOCOL_VERSION,
  type ReplyFrame,
} from "@beckon/protocol";
import { isOperationName, requestEnvelopeSchema, requestSchemas } from "@beckon/protocol/schemas";
import type { Logger } from "pino";
import type { RawData, WebSocket } from "ws";
import { verifyToken } from "../auth-tokens.js";
import type { BusMessage } from "../bus/bus.js";
import type { CallService } from "../call-service.js";
import { clampDelay, LongTimeout } from "../long-timeout.js";
import type { CallStore } from "../store/call-store.js";
import { StoreHealth } from "../store-health.js";
import { ConnectionGuard } from "./connection-guard.js";
import { DeviceRegistry } from "./device-registry.js";
import { DeviceSession } from "./device-session.js";
import { FrameBudget, TOO_MANY_FRAMES_CLOSE_CODE, UserBudgets } from "./frame-budget.js";
import { TokenBucket } from "./rate-limiter.js";
import { closeSocket, terminateInSlices, writeFrame } from "./socket-writer.js";

export interface GatewaySettings {
  secret: string;
  heartbeatIntervalMs: number;
  maxDevicesPerUser: number;
  /** How long before expiry `tokenWillExpire` fires. */
  tokenWarningSeconds: number;
  loginTimeoutMs: number;
  /** How long a dropped device's session waits to be resumed before it ends. */
  resumeWindowMs: number;
  rateLimit: { burst: number; perSecond: number };
  /** Tokens expiring further ahead are refused; the default of auth-tokens.ts when absent. */
  maxTokenLifetimeSeconds?: number;
}

/** One socket, before and after login. */
interface Connection {
  socket: WebSocket;
  openedAt: number;
  lastSeen: number;
  bucket: TokenBucket;
  frames: FrameBudget;
  session: DeviceSession | null;
  loggingIn: boolean;
}

type Handler<K extends OperationName> = (
  connection: Connection & { session: DeviceSession },
  data: OperationMap[K]["request"],
) => Promise<OperationMap[K]["result"]>;

export class Gateway {
  readonly devices = new DeviceRegistry();
  private readonly connections = new Set<Connection>();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly guard: ConnectionGuard;
  private readonly userBudgets: UserBudgets;
  /** Named store failures (a full disk), for replies and /readyz. */
  readonly storeHealth = new StoreHealth();
  /** Set by close(): sockets dropping now are the server going away, not devices getting lost. */
  private closing = false;

  constructor(
    private readonly settings: GatewaySettings,
    private readonly calls: CallService,
    private readonly store: CallStore,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.sweepTimer = setInterval(() => this.sweep(), clampDelay(settings.heartbeatIntervalMs));
    this.sweepTimer.unref();
    this.guard = new ConnectionGuard(
      settings.loginTimeoutMs,
      (count) => log.info({ count }, "closed sockets that did not log in in time"),
      clock,
    );
    this.userBudgets = new UserBudgets(settings.rateLimit);
  }

  /** Why a new socket from `remoteAddress` must be refused now, or null. */
  refuseSocket(remoteAddress: string): string | null {
    return this.guard.refusal(remoteAddress);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  accept(socket: WebSocket, remoteAddress = ""): void {
    const now = this.clock();
    const { burst, perSecond } = this.settings.rateLimit;
    const connection: Connection = {
      socket,
      openedAt: now,
      lastSeen: now,
      bucket: new TokenBucket(burst, perSecond, now),
      frames: new FrameBudget(this.settings.rateLimit, now),
      session: null,
      loggingIn: false,
    };
    this.connections.add(connection);
    this.guard.opened(socket, remoteAddress);
    socket.on("message", (raw, isBinary) => this.onFrame(connection, raw, isBinary));
    socket.on("close", () => this.onClose(connection));
    socket.on("error", (error) => this.log.debug({ err: error }, "socket error"));
  }

  /** Delivers a bus message to the matching devices on this node. */
  deliver(message: BusMessage): void {
    for (const { to, event } of message.deliveries) {
      let json: string | undefined;
      for (const device of this.devices.resolve(to)) {
        json ??= JSON.stringify(event.data);
        device.sendCallEvent(event, json);
      }
    }
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.guard.stop();
    this.closing = true;
    for (const session of this.devices.all()) session.clearTimers();
    for (const connection of this.connections) connection.socket.terminate();
  }

  /** Drops sockets that went silent for two heartbeats, or never logged in. */
  private sweep(): void {
    const now = this.clock();
    const silentSince = now - 2 * this.settings.heartbeatIntervalMs;
    const silent: WebSocket[] = [];
    for (const connection of this.connections) {
      if (connection.lastSeen < silentSince) silent.push(connection.socket);
    }
    terminateInSlices(silent);
    this.userBudgets.prune((userID) => this.devices.devicesOf(userID).length > 0);
  }

  private reply(connection: Connection, frame: ReplyFrame): void {
    writeFrame(connection.socket, JSON.stringify(frame));
  }

  private fail(connection: Connection, id: number | null, code: ErrorCode, message: string): void {
    this.reply(connection, { id, ok: false, error: { code, message } });
  }

  private onFrame(connection: Connection, raw: RawData, isBinary: boolean): void {
    connection.lastSeen = this.clock();
    const charge = connection.frames.charge(connection.lastSeen);
    if (charge !== "ok") {
      if (charge === "close") {
        closeSocket(connection.socket, TOO_MANY_FRAMES_CLOSE_CODE, "too many frames");
      }
      return;
    }
    if (isBinary) {
      this.fail(connection, null, ErrorCode.ParamsInvalid, "binary frames are not supported");
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString());
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
    if (!this.mayRequest(connection, op)) {
      this.fail(connection, id, ErrorCode.ServerFrequencyLimit, "too many requests");
      return;
    }
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
   * The frame budget, charged before parsing, still bounds them.
   */
  private mayRequest(connection: Connection, op: string): boolean {
    if (op === "callAck") return true;
    const now = this.clock();
    if (!connection.bucket.take(now)) return false;
    const userID = connection.session?.userID;
    return userID === undefined || this.userBudgets.take(userID, now);
  }

  private async dispatch(
    connection: Connection,
    id: number,
    op: OperationName,
    data: unknown,
  ): Promise<void> {
    try {
      let result: unknown;
      if (op === "login") {
        const login = await this.login(connection, data as LoginRequest);
        this.reply(connection, { id, ok: true, data: login.result });
        login.afterReply();
        return;
      } else {
        const { session } = connection;
        if (!session) throw new BeckonError(ErrorCode.UserIsNotLogged, "log in first");
        const handler = this.handlers[op] as Handler<typeof op>;
        result = await handler({ ...connection, session }, data as never);
        // The receipt is one-way: the SDK ignores its reply, so a success sends none.
        if (op === "callAck") return;
      }
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

  /**
   * Authenticates the device and either resumes its event stream (replaying what it missed) or
   * starts a new one with the current picture. `afterReply` runs right after the reply is sent,
   * so replayed and new events always follow it.
   */
  private async login(
    connection: Connection,
    request: LoginRequest,
  ): Promise<{ result: LoginResult; afterReply: () => void }> {
    if (request.protocolVersion !== PROTOCOL_VERSION) {
      throw new BeckonError(
        ErrorCode.ParamsInvalid,
        `protocol version ${request.protocolVersion} is not supported (server speaks ${PROTOCOL_VERSION})`,
      );
    }
    if (!isValidUserID(request.userID)) {
      throw new BeckonError(ErrorCode.ParamsInvalid, "invalid userID");
    }
    if (connection.session || connection.loggingIn) {
      throw new BeckonError(ErrorCode.ParamsInvalid, "this connection is already logged in");
    }
    connection.loggingIn = true;
    try {
      const expiresAt = await verifyToken(
        this.settings.secret,
        request.token,
        request.userID,
        this.settings.maxTokenLifetimeSeconds,
      );
      await this.store.addUsers([request.userID]);
      const { socket } = connection;
      if (socket.readyState !== socket.OPEN) {
        throw new BeckonError(ErrorCode.NetworkError, "the connection closed during login");
      }
      const existing = this.devices.get(request.userID, request.deviceID);
      const { resume } = request;
      const resumable =
        existing !== undefined &&
        resume !== undefined &&
        existing.epoch === resume.epoch &&
        existing.canResumeFrom(resume.seq);
      let session: DeviceSession;
      if (resumable) {
        session = existing;
        // A half-open socket of the same device may still hang on; it is replaced quietly.
        session.socket?.terminate();
        session.detach();
      } else {
        if (existing) this.endSession(existing);
        session = new DeviceSession(request.userID, request.deviceID, this.clock());
        this.admit(session);
      }
      connection.session = session;
      this.guard.settled(socket);
      this.armTokenTimers(session, expiresAt);
      const result: LoginResult = {
        userID: session.userID,
        deviceID: session.deviceID,
        serverTime: this.clock(),
        tokenExpiresAt: expiresAt,
        heartbeatIntervalMs: this.settings.heartbeatIntervalMs,
        epoch: session.epoch,
        resumed: resumable,
      };
      const afterReply = () => {
        session.resumeOn(socket, resumable ? (resume?.seq ?? 0) : 0);
        void this.afterLogin(session, resumable ? null : (request.openCalls ?? [])).catch(
          (error: unknown) =>
            this.log.error({ err: error, userID: session.userID }, "login follow-up failed"),
        );
      };
      return { result, afterReply };
    } finally {
      connection.loggingIn = false;
    }
  }

  /** Ends a session for good: its socket goes, its stream is forgotten. */
  private endSession(session: DeviceSession): void {
    this.devices.remove(session);
    session.clearTimers();
    const socket = session.socket;
    session.detach();
    socket?.terminate();
  }

  /** Registers a session, replacing a stale socket of the same device and enforcing the cap. */
  private admit(session: DeviceSession): void {
    this.devices.add(session);
    const devices = this.devices.devicesOf(session.userID);
    const excess = devices.length - this.settings.maxDevicesPerUser;
    if (excess > 0) {
      const oldest = devices
        .filter((device) => device !== session)
        .sort((a, b) => a.loginTime - b.loginTime)
        .slice(0, excess);
      for (const device of oldest)
        this.kick(device, ConnectionEvent.KickedOut, "logged in on too many devices");
    }
  }

  private kick(session: DeviceSession, event: ConnectionEvent, reason: string): void {
    session.send({ ev: "kicked", data: { event, reason } });
    session.socket?.close(
      event === ConnectionEvent.TokenExpired ? CloseCode.TokenExpired : CloseCode.KickedOut,
      reason,
    );
    this.devices.remove(session);
    session.clearTimers();
  }

  private armTokenTimers(session: DeviceSession, expiresAt: number): void {
    const warnAt = expiresAt - this.settings.tokenWarningSeconds * 1000;
    session.setTokenTimers([
      new LongTimeout(
        warnAt,
        () =>
          session.send({
            ev: "tokenWillExpire",
            data: { second: Math.max(0, Math.round((expiresAt - this.clock()) / 1000)) },
          }),
        this.clock,
      ),
      new LongTimeout(
        expiresAt,
        () => this.kick(session, ConnectionEvent.TokenExpired, "the token has expired"),
        this.clock,
      ),
    ]);
  }

  /**
   * After a login: a lost caller device counts as back, and a device that could not resume gets
   * the current picture (`openCalls` non-null). Each call is read in its own queue, so nothing
   * decided meanwhile is missed or shown twice.
   */
  private async afterLogin(session: DeviceSession, openCalls: readonly string[] | null) {
    const calls = await this.store.activeCallsOf(session.userID);
    const actor = this.actorOf(session);
    const show = (event: CallEvent) => session.sendCallEvent(event, JSON.stringify(event.data));
    const active = new Set(calls.map((call) => call.callID));
    await Promise.all([
      ...calls.map(async ({ callID, caller }) => {
        if (caller === session.userID) {
          await this.calls.execute(callID, { type: "deviceBack", actor });
        }
        if (openCalls === null) return;
        await this.calls.inCallOrder(callID, async () => {
          const call = await this.store.getCall(callID);
          const event = call && pictureFor(call, session.userID, session.deviceID, this.clock());
          if (event) show(event);
        });
      }),
      ...(openCalls ?? [])
        .filter((callID) => !active.has(callID))
        .map((callID) =>
          this.calls.inCallOrder(callID, async () => {
            const call = await this.store.getCall(callID);
            const event = call && closingEventFor(call, session.userID);
            if (event) show(event);
          }),
        ),
    ]);
  }

  private onClose(connection: Connection): void {
    this.connections.delete(connection);
    this.guard.settled(connection.socket);
    const { session } = connection;
    // Only the socket the session is on counts; a replaced one leaves quietly.
    if (!session || session.socket !== connection.socket) return;
    session.detach();
    if (this.closing) return;
    session.expiryTimer = setTimeout(() => {
      if (!session.isAttached) this.endSession(session);
    }, clampDelay(this.settings.resumeWindowMs));
    session.expiryTimer.unref();
    if (!session.loggedOut) void this.tellCallsDeviceLost(session);
  }

  private async tellCallsDeviceLost(session: DeviceSession): Promise<void> {
    try {
      const calls = await this.store.activeCallsOf(session.userID);
      const actor = { userID: session.userID, deviceID: session.deviceID };
      await Promise.all(
        calls
          .filter((call) => call.caller === session.userID)
          .map((call) =>
            // The device may be back on a new socket by the time this runs; then it is not lost.
            this.calls.execute(
              call.callID,
              { type: "deviceLost", actor },
              () => !this.devices.isOnline(session.userID, session.deviceID),
            ),
          ),
      );
    } catch (error) {
      this.log.error({ err: error, userID: session.userID }, "device-lost handling failed");
    }
  }

  private actorOf(session: DeviceSession): Actor {
    return { userID: session.userID, deviceID: session.deviceID };
  }

  private readonly handlers: { [K in Exclude<OperationName, "login">]: Handler<K> } = {
    logout: async ({ session }) => {
      session.loggedOut = true;
      const calls = await this.store.activeCallsOf(session.userID);
      const actor = this.actorOf(session);
      await Promise.all(
        calls
          .filter((call) => call.caller === session.userID)
          .map((call) => this.calls.execute(call.callID, { type: "logout", actor })),
      );
      this.devices.remove(session);
      session.clearTimers();
      const socket = session.socket;
      // Reply first, then close: the SDK resolves logout on the reply.
      setImmediate(() => socket?.close(CloseCode.LoggedOut, "logged out"));
      return {};
    },
    renewToken: async ({ session }, { token }) => {
      const expiresAt = await verifyToken(
        this.settings.secret,
        token,
        session.userID,
        this.settings.maxTokenLifetimeSeconds,
      );
      this.armTokenTimers(session, expiresAt);
      return { tokenExpiresAt: expiresAt };
    },
    ping: async ({ session }, { ack }) => {
      if (ack !== undefined) session.acknowledge(ack);
      return { serverTime: this.clock() };
    },
    callInvite: async ({ session }, request) =>
      this.calls.invite({ ...request, actor: this.actorOf(session) }),
    callCancel: async ({ session }, { callID, ...rest }) =>
      this.calls.execute(callID, { type: "cancel", actor: this.actorOf(session), ...rest }),
    callAccept: async ({ session }, { callID, extendedData }) =>
      this.calls.execute(callID, { type: "accept", actor: this.actorOf(session), extendedData }),
    callReject: async ({ session }, { callID, extendedData }) =>
      this.calls.execute(callID, { type: "reject", actor: this.actorOf(session), extendedData }),
    callingInvite: async ({ session }, { callID, invitees, pushConfig }) => {
      const knownUsers = await this.store.knownUsers(invitees);
      const actor = this.actorOf(session);
      return this.calls.execute(callID, {
        type: "callingInvite",
        actor,
        invitees,
        pushConfig,
        knownUsers,
      });
    },
    callJoin: async ({ session }, { callID, extendedData }) =>
      this.calls.execute(callID, { type: "join", actor: this.actorOf(session), extendedData }),
    callQuit: async ({ session }, { callID, extendedData }) =>
      this.calls.execute(callID, { type: "quit", actor: this.actorOf(session), extendedData }),
    callEnd: async ({ session }, { callID, extendedData }) =>
      this.calls.execute(callID, { type: "end", actor: this.actorOf(session), extendedData }),
    callAck: async ({ session }, { callID }) => {
      await this.calls.execute(callID, { type: "receipt", actor: this.actorOf(session) });
      return {};
    },
    queryCallInvitationList: async ({ session }, { count, nextFlag }) => {
      const invalid = checkCallListQuery(count, nextFlag);
      if (invalid) throw invalid;
      const page = await this.store.listCallsOf(session.userID, count, nextFlag ?? 0);
      return {
        callList: page.calls.map((call) => callInfoFor(call, session.userID)),
        nextFlag: page.next,
      };
    },
  };
}
