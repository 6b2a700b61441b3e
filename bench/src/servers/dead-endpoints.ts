// The far ends of the integrations scenario, run in the orchestrator: a webhook endpoint that
// accepts TCP connections and never answers, one whose port refuses connections, and an HTTP
// receiver (the generic push provider's gateway) that answers every request after a delay.
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer as createTcpServer, type Socket } from "node:net";

export interface DeadEndpoint {
  url: string;
  /** Connections accepted so far (always 0 for a refusing port). */
  connections(): number;
  close(): Promise<void>;
}

export interface SlowReceiver {
  url: string;
  /** Requests received so far, answered or not yet. */
  requests(): number;
  close(): Promise<void>;
}

function portOf(address: AddressInfo | string | null): number {
  if (address === null || typeof address === "string") throw new Error("not a TCP listener");
  return address.port;
}

/** Accepts every connection, reads nothing, writes nothing: the sender waits for its timeout. */
export async function holdingEndpoint(): Promise<DeadEndpoint> {
  const held = new Set<Socket>();
  let accepted = 0;
  const server = createTcpServer((socket) => {
    accepted += 1;
    held.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => held.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = portOf(server.address());
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    connections: () => accepted,
    close: async () => {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port that was free a moment ago and has nothing listening: every connect is refused. */
export async function refusedEndpoint(): Promise<DeadEndpoint> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = portOf(server.address());
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    connections: () => 0,
    close: async () => {},
  };
}

/** Answers 200 to every request `delayMs` after it arrived. */
export async function slowReceiver(delayMs: number): Promise<SlowReceiver> {
  let received = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server = createHttpServer((request, response) => {
    received += 1;
    request.resume();
    const timer = setTimeout(() => {
      timers.delete(timer);
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    }, delayMs);
    timers.add(timer);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = portOf(server.address());
  return {
    url: `http://127.0.0.1:${port}/push`,
    requests: () => received,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
