// @beckon/server: run a Beckon node in-process, and mint development tokens.
export { type SignTokenOptions, signToken } from "./auth-tokens.js";
export { type BeckonServer, createServer } from "./create-server.js";
export type { ServerOptions } from "./server-options.js";
export type { CallStore, StoredTimer } from "./store/call-store.js";
export { SqliteCallStore } from "./store/sqlite-call-store.js";
