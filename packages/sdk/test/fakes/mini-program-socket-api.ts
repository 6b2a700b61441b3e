// A faithful fake of the socket API of WeChat mini-programs (`wx.connectSocket`) and uni-app
// (`uni.connectSocket`), backed by a real WebSocket from the `ws` package, so the SDK's adapter
// talks to a real Beckon server through the platform's documented callbacks and error shapes:
// results and failures come through callbacks a tick later, failures as `{ errMsg }`, close codes
// other than 1000 or 3000–4999 are refused, and uni-app returns a Promise instead of a SocketTask
// when no success/fail/complete callback is given.
import WebSocket from "ws";

interface CallbackOptions<Result> {
  success?: (result: Result) => void;
  fail?: (error: { errMsg: string }) => void;
  complete?: () => void;
}

type Listener<T> = (result: T) => void;

export interface FakeSocketTask {
  send(options: { data: string } & CallbackOptions<{ errMsg: string }>): void;
  close(options: { code?: number; reason?: string } & CallbackOptions<{ errMsg: string }>): void;
  onOpen(callback: Listener<{ header: Record<string, string>; profile: object }>): void;
  onMessage(callback: Listener<{ data: string | ArrayBuffer }>): void;
  onClose(callback: Listener<{ code: number; reason: string }>): void;
  onError(callback: Listener<{ errMsg: string }>): void;
}

/** What a test can check afterwards: every task opened and how each was closed. */
export interface SocketRecord {
  url: string;
  closedWith: { code: number | undefined; reason: string | undefined } | null;
  sent: number;
}

function later(run: () => void): void {
  setImmediate(run);
}

function settle<Result>(options: CallbackOptions<Result>, outcome: { result: Result } | string) {
  later(() => {
    if (typeof outcome === "string") options.fail?.({ errMsg: outcome });
    else options.success?.(outcome.result);
    options.complete?.();
  });
}

class FakeTask implements FakeSocketTask {
  private readonly socket: WebSocket | null;
  private readonly openListeners: Listener<{ header: Record<string, string>; profile: object }>[] =
    [];
  private readonly messageListeners: Listener<{ data: string | ArrayBuffer }>[] = [];
  private readonly closeListeners: Listener<{ code: number; reason: string }>[] = [];
  private readonly errorListeners: Listener<{ errMsg: string }>[] = [];

  constructor(
    private readonly platform: string,
    readonly record: SocketRecord,
    valid: boolean,
  ) {
    this.socket = valid ? new WebSocket(record.url) : null;
    const socket = this.socket;
    if (!socket) return;
    socket.on("open", () => {
      for (const listener of this.openListeners) listener({ header: {}, profile: {} });
    });
    socket.on("message", (data, isBinary) => {
      const payload = isBinary
        ? new Uint8Array(data as Buffer).buffer
        : (data as Buffer).toString("utf8");
      for (const listener of this.messageListeners) listener({ data: payload });
    });
    socket.on("error", (error) => {
      for (const listener of this.errorListeners) listener({ errMsg: error.message });
    });
    socket.on("close", (code, reason) => {
      for (const listener of this.closeListeners) {
        listener({ code, reason: reason.toString("utf8") });
      }
    });
  }

  send(options: { data: string } & CallbackOptions<{ errMsg: string }>): void {
    if (this.socket?.readyState !== WebSocket.OPEN) {
      settle(options, `sendSocketMessage:fail ${this.platform} WebSocket is not connected`);
      return;
    }
    this.record.sent++;
    this.socket.send(options.data);
    settle(options, { result: { errMsg: "sendSocketMessage:ok" } });
  }

  close(options: { code?: number; reason?: string } & CallbackOptions<{ errMsg: string }>): void {
    const code = options.code ?? 1000;
    if (code !== 1000 && (code < 3000 || code > 4999)) {
      settle(
        options,
        "closeSocket:fail The code must be either 1000, or between 3000 and 4999. " +
          `${code} is neither.`,
      );
      return;
    }
    this.record.closedWith = { code: options.code, reason: options.reason };
    this.socket?.close(code, options.reason);
    settle(options, { result: { errMsg: "closeSocket:ok" } });
  }

  onOpen(callback: Listener<{ header: Record<string, string>; profile: object }>): void {
    this.openListeners.push(callback);
  }

  onMessage(callback: Listener<{ data: string | ArrayBuffer }>): void {
    this.messageListeners.push(callback);
  }

  onClose(callback: Listener<{ code: number; reason: string }>): void {
    this.closeListeners.push(callback);
  }

  onError(callback: Listener<{ errMsg: string }>): void {
    this.errorListeners.push(callback);
  }

  /** For cleanup: drop the connection as a killed app would. */
  terminate(): void {
    this.socket?.terminate();
  }
}

export interface FakeSocketPlatform {
  connectSocket(
    options: { url: string } & CallbackOptions<{ errMsg: string }>,
  ): FakeSocketTask | Promise<unknown>;
  readonly sockets: SocketRecord[];
  terminateAll(): void;
}

/** `wx` (WeChat) or `uni` (uni-app): same SocketTask, different return rule. */
export function fakeSocketPlatform(platform: "wx" | "uni"): FakeSocketPlatform {
  const sockets: SocketRecord[] = [];
  const tasks: FakeTask[] = [];
  return {
    sockets,
    terminateAll: () => {
      for (const task of tasks) task.terminate();
    },
    connectSocket(options) {
      const withCallback = options.success || options.fail || options.complete;
      const record: SocketRecord = { url: options.url, closedWith: null, sent: 0 };
      const valid = /^wss?:\/\//.test(options.url);
      const task = new FakeTask(platform, record, valid);
      sockets.push(record);
      tasks.push(task);
      settle(
        options,
        valid ? { result: { errMsg: "connectSocket:ok" } } : `connectSocket:fail invalid url`,
      );
      if (platform === "uni" && !withCallback) {
        // uni-app's promisified form: the app never sees the SocketTask.
        return Promise.resolve({ errMsg: "connectSocket:ok" });
      }
      return task;
    },
  };
}
