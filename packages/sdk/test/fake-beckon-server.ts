// A tiny in-process fake of the Beckon *protocol* (not of our server code): a real WebSocket
// server on port 0 that answers login/ping/logout/callAck and lets a test drop sockets.
import { type WebSocket, WebSocketServer } from "ws";

/** An append-only log a test can wait on, instead of sleeping until something has happened. */
export class WaitableLog<T> {
  readonly items: T[] = [];
  private waiters: Array<{
    predicate: (item: T) => boolean;
    nth: number;
    resolve: (item: T) => void;
  }> = [];

  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((waiter) => {
      const found = this.find(waiter.predicate, waiter.nth);
      if (found === undefined) return true;
      waiter.resolve(found.item);
      return false;
    });
  }

  /** The nth (1-based) item matching `predicate`, now or once it arrives; fails after 5 s. */
  waitFor(predicate: (item: T) => boolean, nth = 1): Promise<T> {
    const found = this.find(predicate, nth);
    if (found !== undefined) return Promise.resolve(found.item);
    return new Promise<T>((resolve, reject) => {
      const guard = setTimeout(
        () => reject(new Error(`timed out waiting for item #${nth}`)),
        5_000,
      );
      this.waiters.push({
        predicate,
        nth,
        resolve: (item) => {
          clearTimeout(guard);
          resolve(item);
        },
      });
    });
  }

  count(predicate: (item: T) => boolean): number {
    return this.items.filter(predicate).length;
  }

  // Boxed, so that a log of `undefined` items can still tell "found" from "not yet".
  private find(predicate: (item: T) => boolean, nth: number): { item: T } | undefined {
    let seen = 0;
    for (const item of this.items) {
      if (predicate(item) && ++seen === nth) return { item };
    }
    return undefined;
  }
}

export interface ReceivedFrame {
  socket: WebSocket;
  id: number;
  op: string;
  data: Record<string, unknown>;
}

export const FAKE_EPOCH = "epoch-1";

/** Returns the reply to a login frame, or null to leave it unanswered (the test answers later). */
export type LoginResponder = (frame: ReceivedFrame) => object | null;

export const acceptLogin: LoginResponder = (frame) => {
  const resume = frame.data.resume as { epoch?: string } | undefined;
  return {
    id: frame.id,
    ok: true,
    data: {
      userID: frame.data.userID,
      deviceID: frame.data.deviceID,
      serverTime: Date.now(),
      tokenExpiresAt: Date.now() + 3_600_000,
      // Long enough that no heartbeat fires during a test.
      heartbeatIntervalMs: 60_000,
      epoch: FAKE_EPOCH,
      resumed: resume?.epoch === FAKE_EPOCH,
    },
  };
};

export class FakeBeckonServer {
  readonly frames = new WaitableLog<ReceivedFrame>();
  readonly connections = new WaitableLog<WebSocket>();
  readonly closedSockets = new WaitableLog<WebSocket>();
  respondToLogin: LoginResponder = acceptLogin;
  /** The reply to a receipt; null sends none (the real server's answer to a good one). */
  respondToAck: (frame: ReceivedFrame) => object | null = (frame) => ({
    id: frame.id,
    ok: true,
    data: {},
  });
  /** Sockets whose pings go unanswered, as if the server had hung. */
  readonly silentSockets = new Set<WebSocket>();

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {
    wss.on("connection", (socket) => {
      this.connections.push(socket);
      socket.on("close", () => this.closedSockets.push(socket));
      socket.on("message", (raw) => this.onMessage(socket, String(raw)));
    });
  }

  static async start(): Promise<FakeBeckonServer> {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
    const address = wss.address();
    if (typeof address !== "object" || address === null) throw new Error("no server address");
    return new FakeBeckonServer(wss, `ws://127.0.0.1:${address.port}`);
  }

  send(socket: WebSocket, frame: object): void {
    socket.send(JSON.stringify(frame));
  }

  /** Kills every connection without a close handshake, like a network failure. */
  dropAll(): void {
    for (const socket of this.wss.clients) socket.terminate();
  }

  close(): Promise<void> {
    for (const socket of this.wss.clients) socket.terminate();
    return new Promise<void>((resolve, reject) =>
      this.wss.close((error) => (error ? reject(error) : resolve())),
    );
  }

  private onMessage(socket: WebSocket, text: string): void {
    const parsed = JSON.parse(text) as { id: number; op: string; data?: Record<string, unknown> };
    const frame: ReceivedFrame = { socket, id: parsed.id, op: parsed.op, data: parsed.data ?? {} };
    this.frames.push(frame);
    switch (frame.op) {
      case "login": {
        const reply = this.respondToLogin(frame);
        if (reply) this.send(socket, reply);
        return;
      }
      case "ping":
        if (this.silentSockets.has(socket)) return;
        this.send(socket, { id: frame.id, ok: true, data: { serverTime: Date.now() } });
        return;
      case "logout":
        this.send(socket, { id: frame.id, ok: true, data: {} });
        return;
      case "callAck": {
        const reply = this.respondToAck(frame);
        if (reply) this.send(socket, reply);
        return;
      }
    }
  }
}
