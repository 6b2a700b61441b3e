// The sessions whose socket is on this node: the login sequence (authenticate, attach, open or
// resume, reply, replay), live stream entries held back until the reply is out, token-expiry
// timers, and the kicks and replacements any node signals. The gateway hands it a DeviceLink.
import { randomBytes } from "node:crypto";
import {
  BeckonError,
  CloseCode,
  ConnectionEvent,
  ErrorCode,
  type LoginRequest,
  type LoginResult,
} from "@beckon/protocol";
import type { Logger } from "pino";
import { KeyedQueue } from "../keyed-queue.js";
import type { RateLimits } from "../rate-limits/rate-limits.js";
import { type StreamBroker, type StreamEntry, streamOf } from "../streams/stream-broker.js";
import type { DeviceLink } from "./device-link.js";
import type { OpenedSession, SessionService, Signal } from "./session-service.js";
import { TokenTimers } from "./token-timers.js";

export interface LocalSessionSettings {
  heartbeatIntervalMs: number;
  /** How long before expiry `tokenWillExpire` fires. */
  tokenWarningSeconds: number;
}

/** A logged-in device whose socket is on this node. */
export interface LocalSession {
  userID: string;
  deviceID: string;
  stream: string;
  epoch: string;
  loginTime: number;
  /** Identifies this attachment, so a "replaced" signal spares it. */
  attachID: string;
  link: DeviceLink<LocalSession>;
  /** The last stream offset written to the socket. */
  sent: number;
  /** Live entries (with their epoch) held back until the session is open; null after. */
  held: Array<{ entry: StreamEntry; epoch: string }> | null;
  tokenTimers: TokenTimers;
  /** Set when the session ended on purpose (logout, kick): the socket closing is not "away". */
  ended: boolean;
  /** A kick that came while the login was still being answered; applied after the reply. */
  pendingKick: Extract<Signal, { kind: "kick" }> | null;
}

export class LocalSessions {
  /** Sessions attached on this node, by stream. */
  private readonly local = new Map<string, LocalSession>();
  private readonly logins = new KeyedQueue();
  private readonly unsubscribe: () => void;
  /** Set by close(): sockets dropping now are the server going away, not devices getting lost. */
  private closing = false;

  constructor(
    private readonly settings: LocalSessionSettings,
    private readonly sessions: SessionService,
    private readonly broker: StreamBroker,
    private readonly limits: RateLimits,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {
    this.unsubscribe = broker.subscribe(
      (stream, entry, epoch) => this.onEntry(stream, entry, epoch),
      (stream, signal) => this.onSignal(stream, signal),
      (stream) => this.local.has(stream),
    );
  }

  /** Logged-in devices with their socket on this node. */
  get count(): number {
    return this.local.size;
  }

  /** Users with a socket on this node, up to `limit` (a development aid, not a hot path). */
  onlineUsers(limit: number): string[] {
    const users = new Set<string>();
    for (const session of this.local.values()) {
      if (users.size >= limit) break;
      users.add(session.userID);
    }
    return [...users];
  }

  /** The node is going away: no more entries, no token deadlines, no session counted away. */
  close(): void {
    this.closing = true;
    this.unsubscribe();
    for (const session of this.local.values()) session.tokenTimers.cancel();
  }

  /**
   * Authenticates the device, attaches it here (holding live entries back), opens its session
   * (resumed or fresh), replies to request `id`, then writes what it missed and what arrived
   * meanwhile, in order, none twice. Logins of one device run one at a time.
   */
  async login(link: DeviceLink<LocalSession>, id: number, request: LoginRequest): Promise<void> {
    const expiresAt = await this.sessions.authenticate(request);
    // Charged once the token holds, so nobody without one can spend a user's logins.
    const allowed = await Promise.resolve(this.limits.take("logins", request.userID)).catch(
      (error: unknown) => {
        this.log.warn({ err: error }, "rate limit check failed");
        return true;
      },
    );
    if (!allowed) {
      throw new BeckonError(
        ErrorCode.ServerFrequencyLimit,
        "too many logins for this user; try again later",
      );
    }
    const stream = streamOf(request.userID, request.deviceID);
    await this.logins.run(stream, async () => {
      if (!link.isOpen()) {
        throw new BeckonError(ErrorCode.NetworkError, "the connection closed during login");
      }
      const previous = this.local.get(stream);
      const session: LocalSession = {
        userID: request.userID,
        deviceID: request.deviceID,
        stream,
        epoch: "",
        loginTime: 0,
        attachID: randomBytes(9).toString("base64url"),
        link,
        sent: 0,
        held: [],
        tokenTimers: new TokenTimers(this.settings.tokenWarningSeconds, this.clock),
        ended: false,
        pendingKick: null,
      };
      if (previous) {
        previous.ended = true;
        this.detach(previous);
        previous.link.terminate();
      }
      this.local.set(stream, session);
      let opened: OpenedSession;
      try {
        opened = await this.sessions.open(session, request.resume, session.attachID);
      } catch (error) {
        this.detach(session);
        throw error;
      }
      session.epoch = opened.position.epoch;
      session.loginTime = opened.loginTime;
      session.sent = opened.resumed ? (request.resume?.seq ?? 0) : 0;
      if (!link.isOpen()) {
        // Gone while its session opened: it is away now, or presence would call it online.
        this.detach(session);
        if (!this.closing) {
          await this.sessions.away(session, session.loginTime, "closed during login");
        }
        throw new BeckonError(ErrorCode.NetworkError, "the connection closed during login");
      }
      link.attach(session);
      this.armTokenTimers(session, expiresAt);
      const result: LoginResult = {
        userID: session.userID,
        deviceID: session.deviceID,
        serverTime: this.clock(),
        tokenExpiresAt: expiresAt,
        heartbeatIntervalMs: this.settings.heartbeatIntervalMs,
        epoch: session.epoch,
        resumed: opened.resumed,
      };
      link.send({ id, ok: true, data: result });
      // The replay, then what arrived while it was written: both ascending, so an entry in
      // both is written once (writeEntry skips offsets already sent). A large replay (a login
      // picture of thousands of invitations) is streamed: past the high-water mark it waits
      // for the socket to drain, live entries still held back meanwhile.
      for (const entry of opened.replay) {
        const backlog = link.backlog();
        if (backlog) await backlog;
        this.writeEntry(session, entry);
      }
      const held = session.held ?? [];
      session.held = null;
      for (const { entry, epoch } of held) {
        if (epoch === session.epoch) this.writeEntry(session, entry);
      }
      if (!link.isOpen()) return;
      if (session.pendingKick) {
        this.applyKick(session, session.pendingKick);
        return;
      }
      this.sessions
        .afterLogin(session, opened.resumed ? null : (request.openCalls ?? []))
        .catch((error: unknown) =>
          this.log.error({ err: error, userID: session.userID }, "login follow-up failed"),
        );
    });
  }

  /** The user logged out on this device; the socket closes after the reply. */
  async logout(session: LocalSession): Promise<void> {
    await this.sessions.logout(session, session.loginTime);
    session.ended = true;
    this.detach(session);
    // Reply first, then close: the SDK resolves logout on the reply.
    setImmediate(() => session.link.close(CloseCode.LoggedOut, "logged out"));
  }

  /** A renewed token: its deadlines replace the old ones. Returns when it expires. */
  async renew(session: LocalSession, token: string): Promise<number> {
    const expiresAt = await this.sessions.renew(session.userID, token);
    this.armTokenTimers(session, expiresAt);
    return expiresAt;
  }

  /** The device has every entry of its stream up to `seq`. */
  acknowledge(session: LocalSession, seq: number): Promise<void> {
    return this.sessions.acknowledge(session, seq);
  }

  /** The session's socket closed: unless it ended on purpose, the device is away. */
  socketClosed(session: LocalSession): void {
    this.detach(session);
    if (session.ended || this.closing) return;
    this.sessions
      .away(session, session.loginTime, "socket closed")
      .catch((error: unknown) =>
        this.log.error({ err: error, userID: session.userID }, "device-lost handling failed"),
      );
  }

  /** A stream entry, published by any node: written if the device is attached here. */
  private onEntry(stream: string, entry: StreamEntry, epoch: string): void {
    const session = this.local.get(stream);
    if (!session) return;
    if (session.held) session.held.push({ entry, epoch });
    else if (session.epoch === epoch) this.writeEntry(session, entry);
    else void this.checkEpoch(session);
  }

  /**
   * An entry of another epoch is stale (published before this session reset its stream), or the
   * broker lost the stream (a Redis restart). Then the device cannot follow its stream any more:
   * its socket goes, and it reconnects, cannot resume, and resyncs.
   */
  private async checkEpoch(session: LocalSession): Promise<void> {
    const current = await this.broker.position(session.stream).catch(() => null);
    if (current === null || current.epoch === session.epoch) return;
    if (this.local.get(session.stream) === session && !session.ended) session.link.terminate();
  }

  private writeEntry(session: LocalSession, entry: StreamEntry): void {
    if (entry.offset <= session.sent) return;
    session.sent = entry.offset;
    session.link.write(`{"seq":${entry.offset},${entry.payload}}`);
  }

  private onSignal(stream: string, text: string): void {
    const session = this.local.get(stream);
    if (!session) return;
    const signal = JSON.parse(text) as Signal;
    if (signal.kind === "resync") {
      if (!session.held) void this.checkEpoch(session);
      return;
    }
    if (signal.kind === "replaced") {
      if (signal.keep === session.attachID) return;
      session.ended = true;
      this.detach(session);
      session.link.terminate();
      return;
    }
    // A device pushed out while its own login is being answered gets its reply first.
    if (session.held) {
      session.pendingKick = signal;
      return;
    }
    this.applyKick(session, signal);
  }

  private applyKick(session: LocalSession, signal: Extract<Signal, { kind: "kick" }>): void {
    session.ended = true;
    session.link.send(signal.frame);
    this.detach(session);
    session.link.close(signal.code, signal.reason);
  }

  private armTokenTimers(session: LocalSession, expiresAt: number): void {
    session.tokenTimers.arm(
      expiresAt,
      (second) => session.link.send({ ev: "tokenWillExpire", data: { second } }),
      () => this.expired(session),
    );
  }

  /** The token ran out: the device is told, its socket closed, its session ended. */
  private expired(session: LocalSession): void {
    const reason = "the token has expired";
    session.ended = true;
    this.sessions.sessionEnded(session, "token_expired", reason);
    session.link.send({ ev: "kicked", data: { event: ConnectionEvent.TokenExpired, reason } });
    this.detach(session);
    session.link.close(CloseCode.TokenExpired, reason);
    this.sessions
      .end(session, session.loginTime)
      .catch((error: unknown) => this.log.warn({ err: error }, "ending a session failed"));
  }

  /** Forgets the session on this node (it lives on in the session service). */
  private detach(session: LocalSession): void {
    session.tokenTimers.cancel();
    if (this.local.get(session.stream) === session) this.local.delete(session.stream);
    session.link.detach(session);
  }
}
