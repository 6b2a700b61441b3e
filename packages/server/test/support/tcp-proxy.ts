// A TCP relay between a device and the server whose wire a test can cut (sockets close) or
// black-hole (sockets stay open but nothing passes), as a real network would.
import { createServer, type Server, type Socket } from "node:net";

export interface TcpProxy {
  url: string;
  /** Closes every relayed connection at once; new ones are relayed again. */
  cut(): void;
  /** Closes every relayed connection and refuses new ones until `up()`. */
  down(): void;
  up(): void;
  /** Stops forwarding bytes without closing anything (a half-open connection). */
  blackhole(): void;
  /** Drops what the server sends, while what devices send still reaches it, until `cut()`. */
  dropReplies(): void;
  /** New connections go to this port from now on (another node of a cluster). */
  retarget(port: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let silent = false;
  let deaf = false;
  let refusing = false;
  let target = targetPort;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = new (client.constructor as typeof Socket)();
    upstream.connect(target, "127.0.0.1");
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const relay = (from: Socket, to: Socket) =>
      from.on("data", (chunk) => {
        if (!silent && !(deaf && from === upstream)) to.write(chunk);
      });
    relay(client, upstream);
    relay(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const cut = () => {
    deaf = false;
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
  };
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    cut,
    down() {
      refusing = true;
      cut();
    },
    retarget(port) {
      target = port;
    },
    up() {
      refusing = false;
    },
    blackhole() {
      silent = true;
    },
    dropReplies() {
      deaf = true;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
