// The StreamBroker contract in memory, and the bounds that keep a silent device cheap.
import { expect, it } from "vitest";
import { MemoryStreamBroker } from "../src/streams/memory-stream-broker.js";
import { describeStreamBroker } from "./support/stream-broker-contract.js";

describeStreamBroker("memory", async () => new MemoryStreamBroker());

it("keeps a stream within its byte budget, dropping the oldest entries", async () => {
  const broker = new MemoryStreamBroker({ maxAgeMs: 60_000, maxBytes: 10_000 });
  const start = await broker.reset("s");
  const payload = "x".repeat(100);
  for (let i = 0; i < 1_000; i++) await broker.publish([{ stream: "s", payload }]);
  expect(broker.heldBytes).toBeLessThanOrEqual(10_000);
  expect(await broker.history("s", start)).toBe("gone");
  const recent = await broker.history("s", { epoch: start.epoch, offset: 990 });
  expect(recent !== "gone" && recent.map((e) => e.offset)).toEqual([
    991, 992, 993, 994, 995, 996, 997, 998, 999, 1000,
  ]);
  await broker.close();
});

it("drops entries older than the resume window", async () => {
  let now = 1_000_000;
  const broker = new MemoryStreamBroker({ maxAgeMs: 1_000, maxBytes: 1 << 20 }, () => now);
  const start = await broker.reset("s");
  await broker.publish([{ stream: "s", payload: "old" }]);
  now += 2_000;
  await broker.publish([{ stream: "s", payload: "new" }]);
  expect(await broker.history("s", start)).toBe("gone");
  expect(await broker.history("s", { epoch: start.epoch, offset: 1 })).toEqual([
    { offset: 2, payload: "new" },
  ]);
  await broker.close();
});

it("50 000 invitations to one silent device: bytes, entries and remembered keys stay bounded", async () => {
  const maxBytes = 256 * 1024;
  const broker = new MemoryStreamBroker({ maxAgeMs: 120_000, maxBytes });
  await broker.reset("device");
  const payload = `"ev":"callInvitationReceived","data":${JSON.stringify({ pad: "x".repeat(300) })}`;
  const until = Date.now() + 600_000;
  let peak = { bytes: 0, entries: 0, onceKeys: 0 };
  for (let i = 0; i < 50_000; i++) {
    await broker.publish([{ stream: "device", payload, once: { key: `call-${i}`, until } }]);
    if (i % 1_000 === 999) {
      const held = broker.held("device");
      peak = {
        bytes: Math.max(peak.bytes, held.bytes),
        entries: Math.max(peak.entries, held.entries),
        onceKeys: Math.max(peak.onceKeys, held.onceKeys),
      };
    }
  }
  expect(peak.bytes).toBeLessThanOrEqual(maxBytes);
  expect(peak.entries).toBeLessThan(1_000);
  expect(peak.onceKeys).toBeLessThanOrEqual(4_096);
  expect((await broker.position("device")).offset).toBe(50_000);
  await broker.close();
});
