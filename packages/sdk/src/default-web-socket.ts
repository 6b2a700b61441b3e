// Which WebSocket a client uses when its options name none: the process-wide default, the
// global, else the mini-program adapter. Apart from the types, so the adapter can use them.
import { miniProgramSocketAPI, miniProgramWebSocket } from "./mini-program-socket.js";
import type { WebSocketConstructorLike } from "./web-socket-like.js";

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
