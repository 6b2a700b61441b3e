// One logged-in device: its identity, its event stream (epoch + seq, with the recent events kept
// for a resume) and the socket it is on right now, if any. It outlives a dropped socket for the
// resume window, so events sent meanwhile can be replayed in order, none twice.
import { randomBytes } from "node:crypto";
import type { CallEvent, ServerFrame } from "@beckon/protocol";
import type WebSocket from "ws";
import type { LongTimeout } from "../long-timeout.js";
import { writeFrame } from "./socket-writer.js";

/** Unacknowledged events kept per device; a device further behind resyncs instead. */
const MAX_REPLAY_EVENTS = 1_000;

interface SentEvent {
  seq: number;
  text: string;
}

export class DeviceSession {
  readonly epoch = randomBytes(8).toString("base64url");
  private seq = 0;
  private readonly replay: SentEvent[] = [];
  /** Invitations (callID + deadline) this device was shown, so a login picture never repeats one. */
  private readonly invitationsShown = new Set<string>();
  /** Null until the login reply is out, and while the device is away. */
  socket: WebSocket | null = null;
  private tokenTimers: LongTimeout[] = [];
  /** Ends the session once the device has been away for the resume window. */
  expiryTimer: NodeJS.Timeout | null = null;
  /** Set by logout: the device left on purpose, so it is not "lost". */
  loggedOut = false;

  constructor(
    readonly userID: string,
    readonly deviceID: string,
    readonly loginTime: number,
  ) {}

  get isAttached(): boolean {
    return this.socket !== null && this.socket.readyState === this.socket.OPEN;
  }

  /**
   * Queues a call event for replay and sends it if the socket is up. `dataJson` is serialized
   * once per event and shared by every device that gets it.
   */
  sendCallEvent(event: CallEvent, dataJson: string): void {
    if (event.name === "callInvitationReceived") {
      const key = `${event.data.callID}:${event.data.deadline}`;
      if (this.invitationsShown.has(key)) return;
      this.invitationsShown.add(key);
    }
    this.seq += 1;
    const text = `{"ev":"${event.name}","seq":${this.seq},"data":${dataJson}}`;
    this.replay.push({ seq: this.seq, text });
    if (this.replay.length > MAX_REPLAY_EVENTS) this.replay.shift();
    if (this.isAttached) this.sendRaw(text);
  }

  /** The device has every event up to `seq`; they need not be kept any longer. */
  acknowledge(seq: number): void {
    let drop = 0;
    while (drop < this.replay.length && (this.replay[drop] as SentEvent).seq <= seq) drop++;
    if (drop > 0) this.replay.splice(0, drop);
  }

  /** Whether every event after `seq` is still kept (so a resume from `seq` loses nothing). */
  canResumeFrom(seq: number): boolean {
    if (seq > this.seq || seq < 0) return false;
    if (seq === this.seq) return true;
    const first = this.replay[0];
    return first !== undefined && first.seq <= seq + 1;
  }

  /** Attaches a new socket and sends it everything after `seq`, in order. */
  resumeOn(socket: WebSocket, seq: number): void {
    this.attach(socket);
    for (const event of this.replay) if (event.seq > seq) this.sendRaw(event.text);
  }

  private attach(socket: WebSocket): void {
    this.socket = socket;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
  }

  detach(): void {
    this.socket = null;
  }

  send(frame: ServerFrame): void {
    if (this.isAttached) this.sendRaw(JSON.stringify(frame));
  }

  private sendRaw(text: string): void {
    writeFrame(this.socket as WebSocket, text);
  }

  setTokenTimers(timers: LongTimeout[]): void {
    for (const timer of this.tokenTimers) timer.cancel();
    this.tokenTimers = timers;
  }

  clearTimers(): void {
    for (const timer of this.tokenTimers) timer.cancel();
    this.tokenTimers = [];
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
  }
}
