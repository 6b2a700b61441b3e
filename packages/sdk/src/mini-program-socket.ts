// A WebSocket over the socket API of WeChat mini-programs (`wx.connectSocket`) and uni-app
// (`uni.connectSocket`), which have no `WebSocket` global. It gives the SDK the slice of the
// WebSocket API it relies on (web-socket-like.ts), so the rest of the client does not change.
import type {
  SocketCloseEventLike,
  SocketMessageEventLike,
  WebSocketConstructorLike,
  WebSocketLike,
} from "./web-socket-like.js";

/** The result every callback of these APIs gets on failure. */
export interface MiniProgramCallbackError {
  errMsg: string;
}

/** The SocketTask that `connectSocket` returns (WeChat and uni-app document the same shape). */
export interface MiniProgramSocketTask {
  send(options: { data: string; fail?: (error: MiniProgramCallbackError) => void }): void;
  close(options: {
    code?: number;
    reason?: string;
    fail?: (error: MiniProgramCallbackError) => void;
  }): void;
  onOpen(callback: (result: unknown) => void): void;
  onMessage(callback: (result: { data: unknown }) => void): void;
  onClose(callback: (result: { code?: number; reason?: string }) => void): void;
  onError(callback: (result: MiniProgramCallbackError) => void): void;
}

export interface MiniProgramSocketAPI {
  connectSocket(options: {
    url: string;
    success?: () => void;
    fail?: (error: MiniProgramCallbackError) => void;
    complete?: () => void;
  }): MiniProgramSocketTask | Promise<unknown>;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
/** What a close without a close frame reports (RFC 6455 §7.1.5). */
const ABNORMAL_CLOSURE = 1006;
/** Mini-programs accept only 1000 or 3000–4999 as a close code. */
const NORMAL_CLOSURE = 1000;

type Listeners = {
  open: Array<() => void>;
  error: Array<() => void>;
  message: Array<(event: SocketMessageEventLike) => void>;
  close: Array<(event: SocketCloseEventLike) => void>;
};

function isSocketTask(value: unknown): value is MiniProgramSocketTask {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as MiniProgramSocketTask).onOpen === "function"
  );
}

/** A WebSocket constructor backed by `api.connectSocket`. */
export function miniProgramWebSocket(api: MiniProgramSocketAPI): WebSocketConstructorLike {
  return class MiniProgramWebSocket implements WebSocketLike {
    readyState = CONNECTING;
    private readonly task: MiniProgramSocketTask;
    private readonly listeners: Listeners = { open: [], error: [], message: [], close: [] };

    constructor(url: string) {
      // uni-app returns a SocketTask only when a callback is given (else a Promise), so `fail`
      // is always passed; it also reports a URL the platform refuses outright.
      // The failure is reported a tick later, so listeners added after construction hear it.
      const task = api.connectSocket({
        url,
        fail: (error) => void Promise.resolve().then(() => this.fail(error)),
      });
      if (!isSocketTask(task)) {
        throw new Error("connectSocket returned no SocketTask");
      }
      this.task = task;
      task.onOpen(() => {
        if (this.readyState !== CONNECTING) return;
        this.readyState = OPEN;
        for (const listener of [...this.listeners.open]) listener();
      });
      task.onMessage((result) => {
        if (this.readyState !== OPEN) return;
        for (const listener of [...this.listeners.message]) listener({ data: result.data });
      });
      task.onError(() => {
        for (const listener of [...this.listeners.error]) listener();
      });
      task.onClose((result) => this.closed(result.code ?? ABNORMAL_CLOSURE, result.reason ?? ""));
    }

    send(data: string): void {
      if (this.readyState !== OPEN) throw new Error("the socket is not open");
      // A send that fails means the connection is going; its onClose does the rest.
      this.task.send({ data, fail: () => {} });
    }

    close(code = NORMAL_CLOSURE, reason = ""): void {
      if (this.readyState === CLOSING || this.readyState === CLOSED) return;
      this.readyState = CLOSING;
      const allowed = code === NORMAL_CLOSURE || (code >= 3000 && code <= 4999);
      // If the platform refuses to close, the socket counts as closed from here on anyway.
      this.task.close({
        code: allowed ? code : NORMAL_CLOSURE,
        reason,
        fail: () => this.closed(ABNORMAL_CLOSURE, ""),
      });
    }

    addEventListener(type: "message", listener: (event: SocketMessageEventLike) => void): void;
    addEventListener(type: "close", listener: (event: SocketCloseEventLike) => void): void;
    addEventListener(type: "open" | "error", listener: () => void): void;
    addEventListener(type: keyof Listeners, listener: never): void {
      (this.listeners[type] as unknown[]).push(listener);
    }

    private fail(_error: MiniProgramCallbackError): void {
      for (const listener of [...this.listeners.error]) listener();
      this.closed(ABNORMAL_CLOSURE, "");
    }

    /** Reported once, whichever of onClose, a failed connect or a refused close comes first. */
    private closed(code: number, reason: string): void {
      if (this.readyState === CLOSED) return;
      this.readyState = CLOSED;
      for (const listener of [...this.listeners.close]) listener({ code, reason });
    }
  };
}

declare const wx: MiniProgramSocketAPI | undefined;
declare const uni: MiniProgramSocketAPI | undefined;

/**
 * The platform's socket API where there is no WebSocket global: uni-app's `uni` first (it wraps
 * each platform's own), else WeChat's `wx`. Read as free variables, since mini-programs inject
 * them as globals that need not be properties of `globalThis`.
 */
export function miniProgramSocketAPI(): MiniProgramSocketAPI | undefined {
  for (const api of [
    typeof uni === "undefined" ? undefined : uni,
    typeof wx === "undefined" ? undefined : wx,
  ]) {
    if (typeof api?.connectSocket === "function") return api;
  }
  return undefined;
}
