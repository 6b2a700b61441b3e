// A faithful fake of React Native's global WebSocket, backed by the `ws` package: RN's class takes
// (url, protocols?, options?), exposes the readyState constants, dispatches `open`, `message`
// (`{ data }`), `error` (`{ message }`) and `close` (`{ code, reason }`) to addEventListener and
// the on* properties, and refuses to send before it is open (INVALID_STATE_ERR).
import WebSocket from "ws";

type Handler = (event: Record<string, unknown>) => void;

export class ReactNativeWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  /** Every socket the SDK opened, so a test can tell this class was really used. */
  static readonly opened: ReactNativeWebSocket[] = [];

  onopen: Handler | null = null;
  onmessage: Handler | null = null;
  onerror: Handler | null = null;
  onclose: Handler | null = null;
  private readonly socket: WebSocket;
  private readonly handlers = new Map<string, Handler[]>();

  constructor(
    readonly url: string,
    _protocols?: string | string[],
    _options?: { headers?: Record<string, string> },
  ) {
    ReactNativeWebSocket.opened.push(this);
    this.socket = new WebSocket(url);
    this.socket.on("open", () => this.dispatch("open", {}));
    this.socket.on("message", (data, isBinary) =>
      this.dispatch("message", { data: isBinary ? data : (data as Buffer).toString("utf8") }),
    );
    this.socket.on("error", (error) => this.dispatch("error", { message: error.message }));
    this.socket.on("close", (code, reason) =>
      this.dispatch("close", { code, reason: reason.toString("utf8") }),
    );
  }

  get readyState(): number {
    return this.socket.readyState;
  }

  send(data: string): void {
    if (this.readyState === ReactNativeWebSocket.CONNECTING) throw new Error("INVALID_STATE_ERR");
    this.socket.send(data);
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  addEventListener(type: string, handler: Handler): void {
    this.handlers.set(type, [...(this.handlers.get(type) ?? []), handler]);
  }

  removeEventListener(type: string, handler: Handler): void {
    this.handlers.set(
      type,
      (this.handlers.get(type) ?? []).filter((known) => known !== handler),
    );
  }

  private dispatch(type: string, fields: Record<string, unknown>): void {
    const event = { type, target: this, ...fields };
    const property = { open: this.onopen, message: this.onmessage, error: this.onerror }[type];
    (type === "close" ? this.onclose : property)?.(event);
    for (const handler of this.handlers.get(type) ?? []) handler(event);
  }
}
