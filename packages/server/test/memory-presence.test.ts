// The Presence contract in memory: the nodes of one process share one instance.
import { afterEach } from "vitest";
import { MemoryPresence } from "../src/presence/memory-presence.js";
import { describePresence } from "./support/presence-contract.js";

let shared: MemoryPresence | undefined;
afterEach(() => {
  shared = undefined;
});
describePresence("memory", async () => {
  shared ??= new MemoryPresence();
  return shared;
});
