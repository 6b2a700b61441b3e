// The StreamBroker contract on Redis, plus what Redis adds: the resume window as a TTL, and a
// Redis that lost its data (a restart) turning into "resync", never into silent loss.
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RedisStreamBroker } from "../src/streams/redis-stream-broker.js";
import { streamOf } from "../src/streams/stream-broker.js";
import { dropRedisKeys, haveRedis, redisUrl, uniqueName } from "./support/services.js";
import { describeStreamBroker, heard } from "./support/stream-broker-contract.js";

const available = await haveRedis();
const prefixes: string[] = [];
afterAll(async () => {
  if (available) for (const prefix of prefixes) await dropRedisKeys(prefix);
});

/** Each test's nodes share one prefix no other run uses. */
let current = "";
function newPrefix(): string {
  current = `${uniqueName("beckon-test")}:`;
  prefixes.push(current);
  return current;
}

describe.runIf(available)("RedisStreamBroker", () => {
  describe("contract", () => {
    afterEach(() => {
      newPrefix();
    });
    newPrefix();
    describeStreamBroker("Redis", () => RedisStreamBroker.open({ url: redisUrl, prefix: current }));
  });

  describe("on Redis", () => {
    const opened: RedisStreamBroker[] = [];
    const redis = new Redis(redisUrl, { lazyConnect: true });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((broker) => broker.close()));
    });
    afterAll(() => redis.quit());
    async function open(options: { retentionMs?: number; maxEntries?: number } = {}) {
      const broker = await RedisStreamBroker.open({
        url: redisUrl,
        prefix: newPrefix(),
        ...options,
      });
      opened.push(broker);
      return broker;
    }
    const stream = streamOf("carol", "tablet");

    it("keeps an untouched stream for the resume window only", async () => {
      const broker = await open({ retentionMs: 60_000 });
      await broker.publish([{ stream, payload: '"i":1' }]);
      const ttl = await redis.pttl(`${current}s:${stream}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect(await redis.pttl(`${current}m:${stream}`)).toBeLessThanOrEqual(60_000);
    });

    it("bounds a stream's length", async () => {
      const broker = await open({ maxEntries: 10 });
      for (let i = 0; i < 300; i++) await broker.publish([{ stream, payload: `"i":${i}` }]);
      expect(await redis.xlen(`${current}s:${stream}`)).toBeLessThan(300);
      const position = await broker.position(stream);
      expect(position.offset).toBe(300);
      expect(await broker.history(stream, { ...position, offset: 0 })).toBe("gone");
    });

    it("after Redis lost its data, a resuming device is told to resync and offsets restart", async () => {
      const broker = await open();
      const listener = heard(broker);
      const before = await broker.position(stream);
      await broker.publish([{ stream, payload: '"i":1' }]);
      await listener.entriesOf(stream, 1);
      await dropRedisKeys(current);
      expect(await broker.history(stream, { ...before, offset: 1 })).toBe("gone");
      const after = await broker.position(stream);
      expect(after).toEqual({ epoch: expect.not.stringMatching(before.epoch), offset: 0 });
      await broker.publish([{ stream, payload: '"i":2' }]);
      expect(await listener.entriesOf(stream, 2)).toEqual([
        { offset: 1, payload: '"i":1' },
        { offset: 1, payload: '"i":2' },
      ]);
    });

    it("refuses a retention or length that is not positive", async () => {
      await expect(
        RedisStreamBroker.open({ url: redisUrl, prefix: newPrefix(), retentionMs: 0 }),
      ).rejects.toThrow(/must be positive/);
    });
  });
});
