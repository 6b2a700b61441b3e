// Requests waiting for their replies: each gets an id, a timeout and the socket it went out on;
// replies are matched to them by id. Requests made while no socket is logged in wait here and
// go out on the next one.
import { BeckonError, type ErrorCode, type OperationMap } from "@beckon/protocol";
import { clampDelay } from "./background-timer.js";
import { TimeoutError } from "./client-errors.js";
import type { ParsedServerFrame } from "./server-frame-parser.js";
import { SOCKET_OPEN, type WebSocketLike } from "./web-socket-like.js";

export type ClientOperationName = keyof OperationMap;
export type RequestOf<K extends ClientOperationName> = OperationMap[K]["request"];
export type ResultOf<K extends ClientOperationName> = OperationMap[K]["result"];

interface PendingRequest {
  readonly op: ClientOperationName;
  /** Serialized once: sent now, or after the reconnect it waits for. */
  readonly frame: string;
  /** The socket it went out on; null while it waits for a logged-in socket. */
  socket: WebSocketLike | null;
  /**
   * Sent again on the next socket when its socket drops before the reply: its idempotency key
   * makes the server answer a retry with the first outcome.
   */
  readonly retried: boolean;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly resolve: (data: unknown) => void;
  readonly reject: (error: BeckonError) => void;
}

export class RequestTable {
  private nextID = 1;
  private readonly pending = new Map<number, PendingRequest>();

  constructor(private readonly timeoutMs: number) {}

  /** A request sent on `socket` now, or (null) on the next logged-in socket. */
  send<K extends ClientOperationName>(
    op: K,
    data: RequestOf<K>,
    socket: WebSocketLike | null,
  ): Promise<ResultOf<K>> {
    return new Promise<ResultOf<K>>((resolve, reject) => {
      const id = this.nextID++;
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) {
          reject(new TimeoutError(`no reply to ${op} within ${this.timeoutMs} ms`));
        }
      }, clampDelay(this.timeoutMs));
      const request: PendingRequest = {
        op,
        frame: JSON.stringify({ id, op, data }),
        socket: null,
        retried: op === "callInvite",
        timer,
        resolve: resolve as (data: unknown) => void,
        reject,
      };
      this.pending.set(id, request);
      if (socket) this.transmitRequest(request, socket);
    });
  }

  /** Frames whose replies nobody waits for (ping, callAck): an id the reply can carry, no entry. */
  sendOneWay<K extends ClientOperationName>(
    socket: WebSocketLike | null,
    op: K,
    data: RequestOf<K>,
  ): number | null {
    if (!socket) return null;
    const id = this.nextID++;
    transmit(socket, JSON.stringify({ id, op, data }));
    return id;
  }

  /** Sends the requests that waited for a logged-in socket, in the order they were made. */
  sendWaiting(socket: WebSocketLike): void {
    for (const request of this.pending.values()) {
      if (request.socket === null) this.transmitRequest(request, socket);
    }
  }

  /**
   * Settles the request a reply answers. A reply to none (a one-way frame's) goes to
   * `unmatched`; one without an id is the server refusing a frame it could not read.
   */
  settle(
    frame: Extract<ParsedServerFrame, { kind: "reply" }>,
    unmatched: (id: number, ok: boolean, code: ErrorCode | undefined) => void,
    refused: (error: { code: ErrorCode; message: string }) => void,
  ): void {
    if (frame.id === null) {
      if (!frame.ok) refused(frame.error);
      return;
    }
    const request = this.pending.get(frame.id);
    if (!request) {
      unmatched(frame.id, frame.ok, frame.ok ? undefined : frame.error.code);
      return;
    }
    this.pending.delete(frame.id);
    clearTimeout(request.timer);
    if (frame.ok) request.resolve(frame.data);
    else request.reject(new BeckonError(frame.error.code, frame.error.message));
  }

  /**
   * The requests sent on a socket that is gone fail with `error`, but those that may be sent
   * again (`keepRetried`) wait for the next socket, within their own timeout.
   */
  socketGone(socket: WebSocketLike, error: BeckonError, keepRetried: boolean): void {
    for (const [id, request] of this.pending) {
      if (request.socket !== socket) continue;
      if (request.retried && keepRetried) {
        request.socket = null;
        continue;
      }
      this.pending.delete(id);
      clearTimeout(request.timer);
      request.reject(error);
    }
  }

  /** Every waiting request fails with `error` (the session ended). */
  rejectAll(error: BeckonError): void {
    for (const request of this.pending.values()) {
      clearTimeout(request.timer);
      request.reject(error);
    }
    this.pending.clear();
  }

  private transmitRequest(request: PendingRequest, socket: WebSocketLike): void {
    request.socket = socket;
    // If the send fails the socket is on its way out; its close event rejects the request.
    transmit(socket, request.frame);
  }
}

function transmit(socket: WebSocketLike, frame: string): void {
  if (socket.readyState !== SOCKET_OPEN) return;
  try {
    socket.send(frame);
  } catch {
    // Browsers throw on a socket that is closing; its close event does the cleanup.
  }
}
