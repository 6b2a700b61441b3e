// The slice of the WebSocket API the SDK relies on, so the browser's WebSocket, the `ws` package
// and test doubles all fit, plus the process-wide default used when a client is given none.
import { miniProgramSocketAPI, miniProgramWebSocket } from "./mini-program-socket.js";

export interface SocketMessageEventLike {
  readonly data: unknown;
}

export interface SocketCloseEventLike {
  readonly code: number;
  readonly reason: string;
}

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drops the connection without a close handshake a dead peer would never answer. */
  terminate?(): void;
  addEventListener(type: "message", listener: (event: SocketMessageEventLike) => void): void;
  addEventListener(type: "close", listener: (event: SocketCloseEventLike) => void): void;
  addEventListener(type: "open" | "error", listener: () => void): void;
}

export type WebSocketConstructorLike = new (url: string) => WebSocketLike;

/** WebSocket.OPEN; a constant rather than a lookup because test doubles may lack the statics. */
export const SOCKET_OPEN = 1;

let defaultWebSocket: WebSocketConstructorLike | undefined;

/**
 * Sets the WebSocket implementation clients use when their options name none. The Node entry
 * calls this with `ws` when the runtime has no global WebSocket.
 */
export function setDefaultWebSocket(implementation: WebSocketConstructorLike | undefined): void {
  defaultWebSocket = implementation;
}

/**
 * The WebSocket a client uses: its option, the process-wide default, the global (browsers, React
 * Native), else an adapter over `uni.connectSocket` / `wx.connectSocket` (uni-app, WeChat).
 */
export function resolveWebSocket(
  explicit: WebSocketConstructorLike | undefined,
): WebSocketConstructorLike | undefined {
  if (explicit) return explicit;
  if (defaultWebSocket) return defaultWebSocket;
  if (typeof globalThis.WebSocket === "function") return globalThis.WebSocket;
  const miniProgram = miniProgramSocketAPI();
  return miniProgram ? miniProgramWebSocket(miniProgram) : undefined;
}
