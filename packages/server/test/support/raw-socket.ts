// A bare protocol client for tests that must send what the SDK never would.
import WebSocket from "ws";

export interface RawSocket {
  socket: WebSocket;
  /** Sends text (or a Buffer as a binary frame) and waits for the next frame from the server. */
  request(frame: string | Buffer): Promise<Record<string, unknown>>;
  next(): Promise<Record<string, unknown>>;
  closed: Promise<{ code: number }>;
  close(): Promise<void>;
}

export async function openRawSocket(url: string): Promise<RawSocket> {
  const socket = new WebSocket(url);
  const queue: Record<string, unknown>[] = [];
  const waiters: Array<(frame: Record<string, unknown>) => void> = [];
  socket.on("message", (data) => {
    const frame = JSON.parse(data.toString()) as Record<string, unknown>;
    const waiter = waiters.shift();
    if (waiter) waiter(frame);
    else queue.push(frame);
  });
  const closed = new Promise<{ code: number }>((resolve) =>
    socket.once("close", (code) => resolve({ code })),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  const next = () =>
    new Promise<Record<string, unknown>>((resolve) => {
      const frame = queue.shift();
      if (frame) resolve(frame);
      else waiters.push(resolve);
    });
  return {
    socket,
    next,
    closed,
    request(frame) {
      socket.send(frame, { binary: Buffer.isBuffer(frame) });
      return next();
    },
    async close() {
      if (socket.readyState !== WebSocket.CLOSED) {
        socket.terminate();
        await closed;
      }
    },
  };
}
