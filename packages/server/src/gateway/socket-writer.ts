// Every frame to a socket goes through one write path, so one send-buffer policy holds for
// replies and events alike. A socket is judged by what it leaves undrained over time, not by what
// one turn wrote to it: a prompt reader of a large burst drains it, a slow reader does not.
import type { Socket } from "node:net";
import type { WebSocket } from "ws";

/**
 * Past this much unsent data a socket's further requests wait (its socket is not read) until it
 * has drained, so a peer that asks and does not read cannot make the node build replies for it.
 */
export const HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** Past this much unsent data a socket is closed at once, whatever its pace: memory is bounded. */
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;
/** A socket that drains nothing for this long while data waits for it is too slow (default). */
export const DEFAULT_SLOW_READER_MS = 5_000;
/** Unsent data above this is watched for progress. */
const WATCH_FLOOR_BYTES = 64 * 1024;
/** Drained bytes that count as progress (or the whole backlog, when it is smaller). */
const MIN_PROGRESS_BYTES = 16 * 1024;
/** A socket asked to close gets this long to say goodbye before it is cut. */
const CLOSE_GRACE_MS = 5_000;
/** Sockets closed per event-loop turn when many go at once, so serving never stalls. */
const CLOSE_SLICE = 200;

/** Close code for a reader too slow to keep (the SDK reconnects after it and shows the reason). */
export const SLOW_READER_CLOSE_CODE = 4005;
/** Close code for a node going away (shutdown): the SDK reconnects, to another node if any. */
export const GOING_AWAY_CLOSE_CODE = 1001;

/**
 * Closes with a code and reason the peer can show, after what was written before; a peer that
 * does not answer the close (it may have stopped reading altogether) is cut after a grace instead
 * of ws' 30 s. The socket is read again, so the peer's close is seen; the gateway runs none of
 * the frames that arrive meanwhile.
 */
export function closeSocket(
  socket: WebSocket,
  code: number,
  reason: string,
  graceMs = CLOSE_GRACE_MS,
): void {
  // Closing already: its grace timer runs (frames still arriving must not add more).
  if (socket.readyState !== socket.OPEN) return;
  socket.close(code, reason);
  if (socket.isPaused) socket.resume();
  setTimeout(() => socket.terminate(), graceMs).unref();
}

/**
 * Ends many sockets a slice per event-loop turn: what each was written leaves first (a close
 * frame follows it), and each is cut after the grace if its peer does not answer.
 */
export function closeInSlices(
  sockets: readonly WebSocket[],
  code: number,
  reason: string,
  graceMs = CLOSE_GRACE_MS,
): void {
  let next = 0;
  const slice = () => {
    const end = Math.min(next + CLOSE_SLICE, sockets.length);
    for (; next < end; next++) {
      const socket = sockets[next];
      if (socket) {
        releaseWrites(socket);
        closeSocket(socket, code, reason, graceMs);
      }
    }
    if (next < sockets.length) setImmediate(slice);
  };
  slice();
}

/** Terminates many sockets a slice per event-loop turn (sockets that never logged in). */
export function terminateInSlices(sockets: readonly WebSocket[]): void {
  let next = 0;
  const slice = () => {
    const end = Math.min(next + CLOSE_SLICE, sockets.length);
    for (; next < end; next++) sockets[next]?.terminate();
    if (next < sockets.length) setImmediate(slice);
  };
  slice();
}

/** Resolves once `socket` has handed its send buffer to the kernel, or has closed. */
export function drained(socket: WebSocket): Promise<void> {
  const raw = rawSocketOf(socket);
  if (!raw || socket.readyState !== socket.OPEN || !raw.writableNeedDrain) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const done = () => {
      raw.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    raw.on("drain", done);
    socket.on("close", done);
  });
}

/** What a socket was written and when it last drained some of it. */
export interface SendState {
  socket: WebSocket;
  /** Bytes written so far (UTF-8). */
  written: number;
  /** `written - bufferedAmount` when progress was last seen. */
  drainedMark: number;
  progressAt: number;
  watched: boolean;
}

/**
 * Watches sockets with unsent data: one that drains nothing for `slowReaderMs` is reported
 * (the gateway closes it with 4005). One timer for all of them, running only while some are
 * watched, so idle sockets cost nothing.
 */
export class SlowReaderWatch {
  private readonly watched = new Set<SendState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly slowReaderMs: number,
    private readonly onSlow: (state: SendState) => void,
    private readonly clock: () => number,
  ) {}

  /** After a write: starts watching `state` if it has a backlog worth watching. */
  wrote(state: SendState): void {
    if (state.watched || state.socket.bufferedAmount <= WATCH_FLOOR_BYTES) return;
    state.watched = true;
    state.drainedMark = state.written - state.socket.bufferedAmount;
    state.progressAt = this.clock();
    this.watched.add(state);
    this.timer ??= setInterval(() => this.check(), Math.max(20, this.slowReaderMs / 4));
    this.timer.unref();
  }

  forget(state: SendState): void {
    state.watched = false;
    this.watched.delete(state);
    if (this.watched.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    const now = this.clock();
    for (const state of this.watched) {
      const { socket } = state;
      const backlog = socket.bufferedAmount;
      if (socket.readyState !== socket.OPEN || backlog <= WATCH_FLOOR_BYTES) {
        this.forget(state);
        continue;
      }
      const drainedNow = state.written - backlog;
      if (drainedNow - state.drainedMark >= Math.min(MIN_PROGRESS_BYTES, backlog)) {
        state.drainedMark = drainedNow;
        state.progressAt = now;
      } else if (now - state.progressAt >= this.slowReaderMs) {
        this.forget(state);
        this.onSlow(state);
      }
    }
  }
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
