// A server that cuts the WebSocket handshake (a proxy refusing while its backend restarts, a
// balancer with no healthy node) must fail the attempt at once, whichever WebSocket the runtime
// has: Node 22's built-in one fires an error and never a close for it. On a runtime whose
// WebSocket does close, this passes either way; CI runs it on Node 22 too.
import { createServer, type Server, type Socket } from "node:net";
import { BeckonClient, ConnectionState, ErrorCode } from "@beckon/sdk";
import { afterEach, expect, it } from "vitest";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function cuttingServer(): Promise<{ url: string; accepted: () => number }> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: `ws://127.0.0.1:${port}/ws`, accepted: () => accepted };
}

it("a login whose handshake the server cuts fails as lost, not after the open timeout", async () => {
  const server = await cuttingServer();
  // An open timeout longer than the test's own: only the error event can end this login.
  const client = new BeckonClient({ url: server.url, requestTimeoutMs: 600_000 });
  cleanups.push(() => client.destroy());
  const login = client.login("alice", { token: "any" });
  await expect(login).rejects.toMatchObject({ code: ErrorCode.NetworkError });
  expect(server.accepted()).toBe(1);
  expect(client.connectionState).toBe(ConnectionState.Disconnected);
}, 20_000);
