// One logged-in device on one socket: its identity, its event stream (epoch + seq) and timers.
import { randomBytes } from "node:crypto";
import type { CallEvent, ServerFrame } from "@beckon/protocol";
import type WebSocket from "ws";

/** Past this much unsent data the device is too slow to keep; it reconnects and resyncs. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export class DeviceSession {
  readonly epoch = randomBytes(8).toString("base64url");
  private seq = 0;
  /** Invitations (callID + deadline) this device was shown, so a login picture never repeats one. */
  readonly invitationsShown = new Set<string>();
  tokenExpiresAt = 0;
  private tokenTimers: NodeJS.Timeout[] = [];
  /** Set when the session ended on purpose (logout, kick, replaced), not by a lost socket. */
  endedOnPurpose = false;

  constructor(
    readonly userID: string,
    readonly deviceID: string,
    readonly socket: WebSocket,
    readonly loginTime: number,
  ) {}

  get isOpen(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  /** Sends a call event; `dataJson` is serialized once per event and shared by all devices. */
  sendCallEvent(event: CallEvent, dataJson: string): void {
    if (!this.isOpen) return;
    const { name } = event;
    if (name === "callInvitationReceived") {
      const key = `${event.data.callID}:${event.data.deadline}`;
      if (this.invitationsShown.has(key)) return;
      this.invitationsShown.add(key);
    }
    this.seq += 1;
    this.sendRaw(`{"ev":"${name}","seq":${this.seq},"data":${dataJson}}`);
  }

  send(frame: ServerFrame): void {
    if (this.isOpen) this.sendRaw(JSON.stringify(frame));
  }

  private sendRaw(text: string): void {
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.socket.terminate();
      return;
    }
    this.socket.send(text);
  }

  setTokenTimers(timers: NodeJS.Timeout[]): void {
    this.clearTokenTimers();
    for (const timer of timers) timer.unref();
    this.tokenTimers = timers;
  }

  clearTokenTimers(): void {
    for (const timer of this.tokenTimers) clearTimeout(timer);
    this.tokenTimers = [];
  }
}
