// What a session needs of the socket its device is on. The gateway implements it for each
// WebSocket; sessions never see a socket, a send buffer or a close handshake.
import type { ReplyFrame, ServerFrame } from "@beckon/protocol";

/** `S` is the session the socket carries once logged in (the local sessions' LocalSession). */
export interface DeviceLink<S> {
  /** Whether frames written now still leave. */
  isOpen(): boolean;
  /** Writes a frame under the gateway's send-buffer policy. */
  send(frame: ReplyFrame | ServerFrame): void;
  /** Writes frame text already serialized (a stream entry, the same bytes for every device). */
  write(text: string): void;
  /** Resolves once the socket's backlog is under its high-water mark; null when it is now. */
  backlog(): Promise<void> | null;
  /** Closes the socket after what was written to it. */
  close(code: number, reason: string): void;
  /** Drops the socket at once, after handing over what this turn wrote to it. */
  terminate(): void;
  /** The login succeeded: the socket now carries this session's requests. */
  attach(session: S): void;
  /** The session left the socket (logout, kick, replaced, expired). */
  detach(session: S): void;
}
