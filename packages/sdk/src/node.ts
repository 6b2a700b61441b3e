// The Node.js entry: everything the browser entry exports, with the `ws` package as the
// WebSocket wherever the runtime has none built in (Node 20).
import { WebSocket as NodeWebSocket } from "ws";
import { setDefaultWebSocket } from "./default-web-socket.js";

if (typeof globalThis.WebSocket !== "function") setDefaultWebSocket(NodeWebSocket);

export * from "./index.js";
export { default } from "./index.js";
