// The Beckon call engine: pure call semantics, shared by every server adapter.

export * from "./call.js";
export * from "./call-list-query.js";
export * from "./commands.js";
export * from "./create-call.js";
export * from "./decision.js";
export * from "./engine.js";
export * from "./facts.js";
export * from "./leave-call.js";
export { VANISHED_EXTENDED_DATA } from "./presence-rules.js";
export * from "./resync.js";
export * from "./timers.js";
export * from "./views.js";
