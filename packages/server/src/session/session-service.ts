// Devices' sessions, whichever node their socket is on: login and resume (from the stream
// broker, so any node can resume a device), the login picture, presence, and what a device
// going away or coming back means for its calls. The gateway only moves frames.
import { actorOf, type Call, closingEventFor, findMember, pictureFor } from "@beckon/engine";
import {
  BeckonError,
  type CallEvent,
  CallUserState,
  CloseCode,
  ConnectionEvent,
  ErrorCode,
  isValidUserID,
  type LoginRequest,
  PROTOCOL_VERSION,
  type ServerFrame,
} from "@beckon/protocol";
import type { Logger } from "pino";
import type { CallService } from "../call-service.js";
import type { Hook } from "../hooks/hook.js";
import type { BeckonMetrics } from "../metrics.js";
import type { DeviceRef, DeviceState, Presence } from "../presence/presence.js";
import type { CallStore } from "../store/call-store.js";
import {
  type StreamBroker,
  type StreamEntry,
  type StreamPosition,
  streamOf,
} from "../streams/stream-broker.js";
import type { TokenVerifier } from "../token-verifier.js";

export interface SessionSettings {
  /** Checks login and renew tokens (keys, JWKS, ZEGO tokens, lifetime bound). */
  tokens: Pick<TokenVerifier, "verify">;
  maxDevicesPerUser: number;
  /** How long a dropped device's session waits to be resumed before it ends. */
  resumeWindowMs: number;
}

/** What a node holding a device's socket is told to do with it. */
export type Signal =
  /** Send the frame, then close the socket. */
  | { kind: "kick"; frame: ServerFrame; code: number; reason: string }
  /** The device logged in again elsewhere: drop every socket of it but `keep`, quietly. */
  | { kind: "replaced"; keep: string }
  /** The device's stream was reset under it: drop the socket, so the device resyncs. */
  | { kind: "resync" };

export interface OpenedSession {
  position: StreamPosition;
  resumed: boolean;
  /** What the device missed (resume) or what reached its fresh stream before it was attached. */
  replay: StreamEntry[];
  loginTime: number;
}

export interface SessionDeps {
  nodeID: string;
  store: CallStore;
  broker: StreamBroker;
  presence: Presence;
  calls: CallService;
  hooks: readonly Hook[];
  settings: SessionSettings;
  log: Logger;
  clock: () => number;
  metrics?: BeckonMetrics;
}

export class SessionService {
  private readonly expiry = new Map<string, NodeJS.Timeout>();

  constructor(private readonly deps: SessionDeps) {
    // A lost node's devices are away from here on: their resume windows, lost callers and
    // vanished members run on this node.
    deps.presence.onNodeLost?.(async ({ devices, calls }) => {
      deps.log.warn({ devices: devices.length, calls: calls.length }, "taking over a lost node");
      for (const device of devices) {
        await this.away(device, device.loginTime, "node lost").catch((error: unknown) =>
          deps.log.error({ err: error, userID: device.userID }, "taking over a session failed"),
        );
      }
      for (const callID of calls) {
        await this.resyncMembers(callID).catch((error: unknown) =>
          deps.log.error({ err: error, callID }, "resyncing a lost node's call failed"),
        );
      }
    });
    // Sessions of this node that went missing from the shared presence meanwhile (a Redis stall
    // past their leases): events published then went to nobody, so their devices resync.
    deps.presence.onSessionsRestored?.(async (devices) => {
      deps.log.warn({ devices: devices.length }, "sessions put back in presence: devices resync");
      for (const device of devices) {
        await this.resync(device).catch((error: unknown) =>
          deps.log.error({ err: error, userID: device.userID }, "resyncing a device failed"),
        );
      }
    });
  }

  /**
   * A lost node may have committed a decision of the call without publishing its events: every
   * device of its members starts a new stream and resyncs, which shows each of them the call as
   * it is (the login picture), nothing missed and nothing shown twice.
   */
  private async resyncMembers(callID: string): Promise<void> {
    const { store, presence } = this.deps;
    const call = await store.getCall(callID);
    if (!call) return;
    for (const member of call.members) {
      for (const device of await presence.devicesOf(member.userID)) await this.resync(device);
    }
  }

  /** The device starts a new stream: it cannot resume, and logs in afresh (the login picture). */
  private async resync(device: DeviceRef): Promise<void> {
    const { broker } = this.deps;
    const stream = streamOf(device.userID, device.deviceID);
    await broker.reset(stream);
    await broker.signal(stream, JSON.stringify({ kind: "resync" } satisfies Signal));
  }

  /** Checks a login request and its token; returns when the token expires. */
  async authenticate(request: LoginRequest): Promise<number> {
    if (request.protocolVersion !== PROTOCOL_VERSION) {
      throw new BeckonError(
        ErrorCode.ParamsInvalid,
        `protocol version ${request.protocolVersion} is not supported (server speaks ${PROTOCOL_VERSION})`,
      );
    }
    if (!isValidUserID(request.userID)) {
      throw new BeckonError(ErrorCode.ParamsInvalid, "invalid userID");
    }
    let expiresAt: number;
    try {
      expiresAt = await this.verify(request.token, request.userID);
    } catch (error) {
      const code = error instanceof BeckonError ? error.code : ErrorCode.ServerError;
      this.deps.metrics?.onLoginRefused(
        code === ErrorCode.TokenExpired
          ? "token_expired"
          : code === ErrorCode.TokenInvalid
            ? "token_invalid"
            : "other",
      );
      // Never the token itself: who tried, and why it was refused.
      this.deps.log.info({ userID: request.userID, code }, "login refused");
      throw error;
    }
    await this.deps.store.addUsers([request.userID]);
    return expiresAt;
  }

  async renew(userID: string, token: string): Promise<number> {
    return this.verify(token, userID);
  }

  private verify(token: string, userID: string): Promise<number> {
    return this.deps.settings.tokens.verify(token, userID);
  }

  /**
   * Opens the device's session on this node: resumes its stream from `resume` when every entry
   * after it is still kept, else starts the stream afresh. Call it after the gateway is ready to
   * buffer the stream's live entries, so nothing published meanwhile is lost.
   */
  async open(
    device: DeviceRef,
    resume: LoginRequest["resume"],
    attachID: string,
  ): Promise<OpenedSession> {
    const { broker, presence, nodeID, settings } = this.deps;
    const stream = streamOf(device.userID, device.deviceID);
    this.cancelExpiry(stream);
    // A half-open socket of the same device may still hang on, here or on another node.
    await broker.signal(
      stream,
      JSON.stringify({ kind: "replaced", keep: attachID } satisfies Signal),
    );
    const existing = (await presence.devicesOf(device.userID)).find(
      (other) => other.deviceID === device.deviceID,
    );
    if (resume && existing) {
      const since = { epoch: resume.epoch, offset: resume.seq };
      const replay = await broker.history(stream, since);
      // An invitation in it whose deadline has passed must not ring now: the device resyncs
      // instead (its login picture has only what still rings, and the calls it knew closed).
      if (replay !== "gone" && !replay.some((entry) => ringsTooLate(entry, this.deps.clock()))) {
        await presence.mark(device, nodeID, 0);
        const last = replay.at(-1)?.offset ?? resume.seq;
        return {
          position: { epoch: resume.epoch, offset: last },
          resumed: true,
          replay,
          loginTime: existing.loginTime,
        };
      }
    }
    const position = await broker.reset(stream);
    const loginTime = this.deps.clock();
    const state: DeviceState = { ...actorOf(device), nodeID, loginTime, awaySince: 0 };
    const evicted = await presence.join(state, settings.maxDevicesPerUser);
    for (const other of evicted) {
      await this.kick(other, ConnectionEvent.KickedOut, "logged in on too many devices");
    }
    const replay = await broker.history(stream, position);
    return { position, resumed: false, replay: replay === "gone" ? [] : replay, loginTime };
  }

  /**
   * After a login: a lost caller device counts as back, and a device that could not resume gets
   * the current picture (`openCalls` non-null), each call read in its own queue, so nothing
   * decided meanwhile is missed or shown twice.
   */
  async afterLogin(device: DeviceRef, openCalls: readonly string[] | null): Promise<void> {
    const { store, calls } = this.deps;
    for (const hook of this.deps.hooks) await hook.onConnect?.(actorOf(device));
    const active = await store.activeCallsOf(device.userID);
    const actor = actorOf(device);
    const ids = new Set(active.map((call) => call.callID));
    const show = (event: CallEvent | null | undefined, call: Call) =>
      event ? calls.tell(device, [event], call) : Promise.resolve();
    await Promise.all([
      ...active.map(async ({ callID, caller, members }) => {
        if (caller === device.userID) await calls.execute(callID, { type: "deviceBack", actor });
        if (members.some((m) => m.userID === device.userID && m.awayAt)) {
          await calls.execute(callID, { type: "memberBack", userID: device.userID });
        }
        if (openCalls === null) return;
        await calls.inCallOrder(callID, async () => {
          const call = await store.getCall(callID);
          const shown = openCalls.includes(callID);
          const now = this.deps.clock();
          if (call) await show(pictureFor(call, device.userID, device.deviceID, now, shown), call);
        });
      }),
      ...(openCalls ?? [])
        .filter((callID) => !ids.has(callID))
        .map((callID) =>
          calls.inCallOrder(callID, async () => {
            const call = await store.getCall(callID);
            if (call) await show(closingEventFor(call, device.userID), call);
          }),
        ),
    ]);
  }

  /** Whether the device has a socket attached on some node. */
  async isOnline(device: DeviceRef): Promise<boolean> {
    const devices = await this.deps.presence.devicesOf(device.userID);
    return devices.some((other) => other.deviceID === device.deviceID && other.awaySince === 0);
  }

  /** The device's socket went away without a logout: its session waits to be resumed. */
  async away(device: DeviceRef, loginTime: number, reason: string): Promise<void> {
    const { presence, nodeID, settings } = this.deps;
    const stream = streamOf(device.userID, device.deviceID);
    await presence.mark(device, nodeID, this.deps.clock());
    this.cancelExpiry(stream);
    const timer = setTimeout(() => {
      this.expiry.delete(stream);
      void this.expire(device, loginTime).catch((error: unknown) =>
        this.deps.log.error({ err: error, userID: device.userID }, "session expiry failed"),
      );
    }, settings.resumeWindowMs);
    timer.unref();
    this.expiry.set(stream, timer);
    for (const hook of this.deps.hooks) await hook.onDisconnect?.(actorOf(device), reason);
    await this.tellCallsDeviceLost(device);
    await this.checkUserGone(device.userID);
  }

  /** Whether some device of the user has a socket attached on some node. */
  private async hasDeviceOnline(userID: string): Promise<boolean> {
    return (await this.deps.presence.devicesOf(userID)).some((other) => other.awaySince === 0);
  }

  /**
   * With no device of the user connected, each call it is Accepted in starts the grace period
   * after which it is quit (SPEC §5 "Members who vanish").
   */
  private async checkUserGone(userID: string): Promise<void> {
    if (await this.hasDeviceOnline(userID)) return;
    const calls = await this.deps.store.activeCallsOf(userID);
    await Promise.all(
      calls
        .filter((call) =>
          call.members.some(
            (m) => m.userID === userID && m.state === CallUserState.Accepted && !m.awayAt,
          ),
        )
        .map((call) =>
          this.deps.calls.execute(
            call.callID,
            { type: "memberAway", userID },
            async () => !(await this.hasDeviceOnline(userID)),
          ),
        ),
    );
  }

  private async expire(device: DeviceRef, loginTime: number): Promise<void> {
    const state = (await this.deps.presence.devicesOf(device.userID)).find(
      (other) => other.deviceID === device.deviceID,
    );
    // Resumed meanwhile (maybe on another node), or replaced by a newer login: not ours to end.
    if (!state || state.awaySince === 0 || state.loginTime !== loginTime) return;
    await this.end(device, loginTime);
  }

  /** Ends a session for good: presence forgets it and its stream goes. */
  async end(device: DeviceRef, loginTime: number): Promise<void> {
    const stream = streamOf(device.userID, device.deviceID);
    this.cancelExpiry(stream);
    await this.deps.presence.leave(device, loginTime);
    await this.deps.broker.drop(stream);
    await this.checkUserGone(device.userID);
  }

  /** The user logged out on this device: its unanswered calls as caller are cancelled. */
  async logout(device: DeviceRef, loginTime: number): Promise<void> {
    this.sessionEnded(device, "logout");
    const calls = await this.deps.store.activeCallsOf(device.userID);
    const actor = actorOf(device);
    await Promise.all(
      calls
        .filter((call) => call.caller === device.userID)
        .map((call) => this.deps.calls.execute(call.callID, { type: "logout", actor })),
    );
    await this.end(device, loginTime);
  }

  /** Sends a session frame to the device on whichever node holds it, then closes its socket. */
  /** One log line and one count per session that ends on purpose (logout, kick, expiry). */
  sessionEnded(device: DeviceRef, why: "logout" | "kicked" | "token_expired", detail = ""): void {
    this.deps.metrics?.onSessionEnded(why);
    this.deps.log.info(
      { userID: device.userID, deviceID: device.deviceID, reason: detail || why },
      why === "logout" ? "logout" : "kick",
    );
  }

  async kick(device: DeviceState, event: ConnectionEvent, reason: string): Promise<void> {
    this.sessionEnded(
      device,
      event === ConnectionEvent.TokenExpired ? "token_expired" : "kicked",
      reason,
    );
    const signal: Signal = {
      kind: "kick",
      frame: { ev: "kicked", data: { event, reason } },
      code: event === ConnectionEvent.TokenExpired ? CloseCode.TokenExpired : CloseCode.KickedOut,
      reason,
    };
    const stream = streamOf(device.userID, device.deviceID);
    await this.deps.broker.signal(stream, JSON.stringify(signal));
    await this.end(device, device.loginTime);
  }

  /** The device has every event up to `seq`. */
  acknowledge(device: DeviceRef, seq: number): Promise<void> {
    return this.deps.broker.trim(streamOf(device.userID, device.deviceID), seq);
  }

  private async tellCallsDeviceLost(device: DeviceRef): Promise<void> {
    const calls = await this.deps.store.activeCallsOf(device.userID);
    const actor = actorOf(device);
    await Promise.all(
      calls
        .filter((call) => call.caller === device.userID)
        .map((call) =>
          // The device may be back on a new socket by the time this runs; then it is not lost.
          this.deps.calls.execute(
            call.callID,
            { type: "deviceLost", actor },
            async () => !(await this.isOnline(device)),
          ),
        ),
    );
  }

  /**
   * After a restart every socket of the old process is gone: unanswered calls whose caller does
   * not come back within the grace period are cancelled (SPEC §5 "Caller lost"). It yields to
   * the event loop every few calls, so the node serves while it sweeps.
   */
  async sweepAfterRestart(stillRunning: () => boolean): Promise<void> {
    const { store, calls, log } = this.deps;
    let done = 0;
    const checked = new Set<string>();
    for (const callID of await store.startedCallIDs()) {
      if (!stillRunning()) break;
      if (++done % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      const call = await store.getCall(callID);
      for (const member of call?.members ?? []) {
        if (member.state !== CallUserState.Accepted || checked.has(member.userID)) continue;
        checked.add(member.userID);
        await this.checkUserGone(member.userID).catch((error: unknown) =>
          log.warn({ err: error, callID }, "restart sweep failed"),
        );
      }
      const deviceID = call && findMember(call, call.caller)?.mainDevice;
      if (!call || !deviceID) continue;
      const device = { userID: call.caller, deviceID };
      await calls
        .execute(
          callID,
          { type: "deviceLost", actor: device },
          async () => !(await this.isOnline(device)),
        )
        .catch((error: unknown) => log.warn({ err: error, callID }, "restart sweep failed"));
    }
  }

  private cancelExpiry(stream: string): void {
    const timer = this.expiry.get(stream);
    if (timer) clearTimeout(timer);
    this.expiry.delete(stream);
  }

  stop(): void {
    for (const timer of this.expiry.values()) clearTimeout(timer);
    this.expiry.clear();
  }
}

const INVITATION = '"ev":"callInvitationReceived",';

/** Whether the entry is an invitation whose deadline is past `now`. */
function ringsTooLate(entry: StreamEntry, now: number): boolean {
  if (!entry.payload.startsWith(INVITATION)) return false;
  const { data } = JSON.parse(`{${entry.payload}}`) as { data: { deadline: number } };
  return data.deadline <= now;
}
