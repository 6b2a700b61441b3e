// Baseline A, the floor: a bare `ws` server that forwards each message to the user named in its
// `to` field and answers heartbeats. No login, no validation beyond parsing, no persistence, no
// state but the sockets.
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { serveCommands } from "../bench-child.js";
import { serverProbes } from "./server-probes.js";

const sockets = new Map<string, WebSocket>();
const wss = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  perMessageDeflate: false,
  maxPayload: 64 * 1024,
});

wss.on("connection", (socket, request) => {
  const userID = new URL(request.url ?? "/", "http://relay").searchParams.get("u") ?? "";
  sockets.set(userID, socket);
  socket.on("message", (raw) => {
    const text = raw.toString();
    if (text.startsWith('{"ping":')) {
      socket.send(`{"pong":${text.slice(8, -1)},"serverTime":${Date.now()}}`);
      return;
    }
    let to: unknown;
    try {
      to = (JSON.parse(text) as { to?: unknown }).to;
    } catch {
      return;
    }
    const target = typeof to === "string" ? sockets.get(to) : undefined;
    if (target?.readyState === WebSocket.OPEN) target.send(text);
  });
  socket.on("close", () => {
    if (sockets.get(userID) === socket) sockets.delete(userID);
  });
  socket.on("error", () => {});
});

await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
const { port } = wss.address() as AddressInfo;

process.once("SIGTERM", () => {
  for (const socket of sockets.values()) socket.terminate();
  wss.close(() => process.exit(0));
});

serveCommands(serverProbes, {
  url: `ws://127.0.0.1:${port}/`,
  port,
  listeningMs: performance.now(),
});
