// Every frame to a socket goes through here, so one send-buffer cap holds for replies and events
// alike: a peer that stops reading is closed, not buffered for without limit.
import type { Socket } from "node:net";
import type { WebSocket } from "ws";

/** Past this much unsent data a socket is too slow to keep; its device reconnects and resumes. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** A socket asked to close gets this long to say goodbye before it is cut. */
const CLOSE_GRACE_MS = 5_000;
/** Sockets closed per event-loop turn when many go at once, so serving never stalls. */
const CLOSE_SLICE = 200;

/** Close code for a reader too slow to keep (the SDK reconnects after it and shows the reason). */
export const SLOW_READER_CLOSE_CODE = 4005;

/** Sends `text` if the socket is open and under the cap; closes it when the cap would be passed. */
export function writeFrame(socket: WebSocket, text: string): boolean {
  if (socket.readyState !== socket.OPEN) return false;
  if (socket.bufferedAmount + Buffer.byteLength(text) > MAX_BUFFERED_BYTES) {
    closeSocket(
      socket,
      SLOW_READER_CLOSE_CODE,
      `too slow to read: over ${MAX_BUFFERED_BYTES} bytes unsent`,
    );
    return false;
  }
  socket.send(text);
  return true;
}

/**
 * Closes with a code and reason the peer can show; a peer that does not answer the close (it may
 * have stopped reading altogether) is cut after a short grace instead of ws' 30 s.
 */
export function closeSocket(socket: WebSocket, code: number, reason: string): void {
  // Closing already: its grace timer runs (frames still arriving must not add more).
  if (socket.readyState !== socket.OPEN) return;
  socket.close(code, reason);
  setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
}

/** Terminates many sockets a slice per event-loop turn. */
export function terminateInSlices(sockets: readonly WebSocket[]): void {
  let next = 0;
  const slice = () => {
    const end = Math.min(next + CLOSE_SLICE, sockets.length);
    for (; next < end; next++) sockets[next]?.terminate();
    if (next < sockets.length) setImmediate(slice);
  };
  slice();
}

/** The TCP socket under a server-side WebSocket (ws keeps it on a private field). */
export function rawSocketOf(socket: WebSocket): Socket | undefined {
  return (socket as unknown as { _socket?: Socket })._socket;
}

/**
 * Frames written to one socket while one I/O callback is being handled (its promise chain and the
 * ticks it queued included) leave in one system call: a socket is corked at its first frame and
 * all corked sockets are uncorked once the ticks queued so far have run. A command's reply and the
 * events it causes for the same device, and the frames of a group commit's siblings to one
 * device, so share a write; nothing waits for a later turn of the event loop.
 */
export class WriteCoalescer {
  private corked: Socket[] = [];
  private scheduled = false;

  /** Corks `raw` until the current ticks have run, if it is not corked already. */
  hold(raw: Socket): void {
    if (raw.writableCorked > 0) return;
    raw.cork();
    this.corked.push(raw);
    if (!this.scheduled) {
      this.scheduled = true;
      // Two hops: events published on a tick queued before this one (a commit's) still join.
      process.nextTick(this.flushLater);
    }
  }

  private readonly flushLater = (): void => {
    process.nextTick(this.flush);
  };

  private readonly flush = (): void => {
    this.scheduled = false;
    const corked = this.corked;
    this.corked = [];
    for (const raw of corked) if (raw.writableCorked > 0) raw.uncork();
  };
}

/** Hands what was written to `socket` and is still held over to the kernel now (before a terminate). */
export function releaseWrites(socket: WebSocket): void {
  const raw = rawSocketOf(socket);
  if (raw && raw.writableCorked > 0) raw.uncork();
}
