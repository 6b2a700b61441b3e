// The slice of the WebSocket API the SDK relies on, so the browser's WebSocket, the `ws` package
// and test doubles all fit.
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
