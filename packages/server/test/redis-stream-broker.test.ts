// The StreamBroker contract on Redis, plus what a cluster adds: several nodes publishing to one
// stream and hearing each other, the resume window as a TTL, and a Redis that lost its data (a
// restart) turning into "resync", never into silent loss.
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { RedisStreamBroker } from "../src/streams/redis-stream-broker.js";
import { type StreamEntry, streamOf } from "../src/streams/stream-broker.js";
import { dropRedisKeys, haveRedis, redisUrl, uniqueName } from "./support/services.js";
import { describeStreamBroker } from "./support/stream-broker-contract.js";

const available = await haveRedis();
const prefixes: string[] = [];
afterAll(async () => {
  if (available) for (const prefix of prefixes) await dropRedisKeys(prefix);
});

/** Each test's nodes share one prefix that no other test or run uses. */
let current = "";
function newPrefix(): string {
  current = `${uniqueName("beckon-test")}:`;
  prefixes.push(current);
  return current;
}

/** What one node hears, with waits for a count of entries or signals. */
function heard(broker: RedisStreamBroker) {
  const entries = new Map<string, Array<StreamEntry & { epoch: string }>>();
  const signals: Array<[string, string]> = [];
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const unsubscribe = broker.subscribe(
    (stream, entry, epoch) => {
      entries.set(stream, [...(entries.get(stream) ?? []), { ...entry, epoch }]);
      wake();
    },
    (stream, frame) => {
      signals.push([stream, frame]);
      wake();
    },
  );
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return {
    signals,
    unsubscribe,
    of: (stream: string) => entries.get(stream) ?? [],
    entriesOf: (stream: string, count: number) =>
      until(() => (entries.get(stream)?.length ?? 0) >= count).then(
        () => entries.get(stream) ?? [],
      ),
    signalCount: (count: number) => until(() => signals.length >= count),
  };
}

/** Polls Redis until `done` holds: an expiry is Redis' own event, with nothing to wait on. */
async function expectEventually(done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) await new Promise((resolve) => setTimeout(resolve, 20));
}

const plain = (entries: Array<StreamEntry & { epoch: string }>) =>
  entries.map(({ offset, payload }) => ({ offset, payload }));

describe.runIf(available)("RedisStreamBroker", () => {
  describe("contract", () => {
    newPrefix();
    afterEach(() => {
      newPrefix();
    });
    describeStreamBroker("Redis", () => RedisStreamBroker.open({ url: redisUrl, prefix: current }));
  });

  describe("as a cluster's broker", () => {
    const opened: RedisStreamBroker[] = [];
    const redis = new Redis(redisUrl, { lazyConnect: true });
    let prefix = "";
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((broker) => broker.close()));
      prefix = "";
    });
    afterAll(() => redis.quit());
    /** One node's broker; the nodes of one test share a prefix. */
    async function node(options: { retentionMs?: number; maxEntries?: number } = {}) {
      if (prefix === "") prefix = newPrefix();
      const broker = await RedisStreamBroker.open({ url: redisUrl, prefix, ...options });
      opened.push(broker);
      return broker;
    }
    const alice = streamOf("alice", "phone");
    const bob = streamOf("bob", "laptop");

    it("every node reading a stream hears every node's entries, in offset order, and can replay them", async () => {
      const [one, two] = [await node(), await node()];
      const onOne = heard(one);
      const onTwo = heard(two);
      const start = await one.position(alice);
      // A node reads a stream once a device of it logs in there.
      await two.position(alice);
      await two.position(bob);
      await one.publish([
        { stream: alice, payload: '"ev":"a1"' },
        { stream: bob, payload: '"ev":"b1"' },
        { stream: alice, payload: '"ev":"a2"' },
      ]);
      await two.publish([{ stream: alice, payload: '"ev":"a3"' }]);
      const expected = [1, 2, 3].map((offset) => ({ offset, payload: `"ev":"a${offset}"` }));
      expect(plain(await onOne.entriesOf(alice, 3))).toEqual(expected);
      const onTwoAlice = await onTwo.entriesOf(alice, 3);
      expect(plain(onTwoAlice)).toEqual(expected);
      expect(new Set(onTwoAlice.map((e) => e.epoch))).toEqual(new Set([start.epoch]));
      expect(plain(await onTwo.entriesOf(bob, 1))).toEqual([{ offset: 1, payload: '"ev":"b1"' }]);
      expect(await two.history(alice, start)).toEqual(expected);
    });

    it("gives unique offsets to three nodes publishing to one stream at once", async () => {
      const nodes = [await node(), await node(), await node()];
      const listener = heard(nodes[0] as RedisStreamBroker);
      await (nodes[0] as RedisStreamBroker).position(alice);
      await Promise.all(
        nodes.flatMap((broker, n) =>
          Array.from({ length: 10 }, (_, i) =>
            broker.publish([{ stream: alice, payload: `"n":${n},"i":${i}` }]),
          ),
        ),
      );
      const entries = plain(await listener.entriesOf(alice, 30));
      expect(entries.map((entry) => entry.offset)).toEqual(
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      const epoch = (await (nodes[1] as RedisStreamBroker).position(alice)).epoch;
      expect(await nodes[2]?.history(alice, { epoch, offset: 0 })).toEqual(entries);
    });

    it("shows an invitation once per device whichever nodes send it", async () => {
      const nodes = [await node(), await node(), await node()];
      const start = await (nodes[0] as RedisStreamBroker).position(bob);
      const until = Date.now() + 60_000;
      await Promise.all(
        nodes.map((broker) =>
          broker.publish([{ stream: bob, payload: '"ev":"ring"', once: { key: "call-9", until } }]),
        ),
      );
      expect(await nodes[1]?.history(bob, start)).toEqual([{ offset: 1, payload: '"ev":"ring"' }]);
    });

    it("remembers a once-key until its deadline only, and a reset forgets it", async () => {
      const broker = await node();
      await broker.position(bob);
      const until = Date.now() + 60_000;
      const ring = { stream: bob, payload: "ring", once: { key: "call-1", until } };
      await broker.publish([ring]);
      await broker.publish([ring]);
      expect((await broker.position(bob)).offset).toBe(1);
      const [onceKey] = await redis.keys(`${prefix}{bob}o:*`);
      const ttl = await redis.pttl(onceKey as string);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
      // A deadline already past remembers nothing.
      await broker.publish([{ ...ring, once: { key: "call-2", until: 1 } }]);
      expect(await redis.keys(`${prefix}{bob}o:*call-2`)).toEqual([]);
      const fresh = await broker.reset(bob);
      await broker.publish([ring]);
      expect(await broker.history(bob, fresh)).toEqual([{ offset: 1, payload: "ring" }]);
    });

    it("hands a node only the entries of streams it reads", async () => {
      const [one, two] = [await node(), await node()];
      const onTwo = heard(two);
      await two.position(bob);
      await one.publish([
        { stream: alice, payload: '"i":1' },
        { stream: bob, payload: '"i":2' },
      ]);
      await onTwo.entriesOf(bob, 1);
      expect(onTwo.of(alice)).toEqual([]);
      // Published after bob's entry on the same connection, heard before it if at all.
      await two.drop(bob);
      await one.publish([{ stream: bob, payload: '"i":3' }]);
      await two.position(alice);
      await one.publish([{ stream: alice, payload: '"i":4' }]);
      await onTwo.entriesOf(alice, 1);
      expect(onTwo.of(bob).map((entry) => entry.payload)).toEqual(['"i":2']);
    });

    it("carries signals to every node reading the stream, and nothing to a listener that left", async () => {
      const [one, two] = [await node(), await node()];
      await one.position(bob);
      await two.position(bob);
      const onOne = heard(one);
      const onTwo = heard(two);
      const gone = heard(two);
      gone.unsubscribe();
      await one.signal(bob, '{"ev":"kicked"}');
      await onTwo.signalCount(1);
      await onOne.signalCount(1);
      expect(onTwo.signals).toEqual([[bob, '{"ev":"kicked"}']]);
      // Published after the signal, so heard after it: the listener that left got neither.
      await one.publish([{ stream: bob, payload: '"i":1' }]);
      await onTwo.entriesOf(bob, 1);
      expect(gone.signals).toEqual([]);
      expect(gone.of(bob)).toEqual([]);
    });

    it("keeps a stream nobody holds for the resume window only", async () => {
      const broker = await node({ retentionMs: 60_000 });
      await broker.position(alice);
      await broker.publish([{ stream: alice, payload: '"i":1' }]);
      for (const key of [`${prefix}{alice}s:phone`, `${prefix}{alice}m`]) {
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
    });

    it("renews the streams whose devices a listener holds, and lets the others go", async () => {
      const broker = await node({ retentionMs: 400 });
      let holding = true;
      broker.subscribe(
        () => {},
        () => {},
        (stream) => holding && stream === alice,
      );
      const start = await broker.position(alice);
      await broker.position(bob);
      // Renewed a few times per window while held: still there after several windows.
      const key = `${prefix}{alice}s:phone`;
      await expectEventually(
        async () =>
          (await redis.pttl(key)) > 0 && (await redis.exists(`${prefix}{bob}s:laptop`)) === 0,
      );
      await broker.publish([{ stream: alice, payload: "a" }]);
      expect(await broker.history(alice, start)).toEqual([{ offset: 1, payload: "a" }]);
      holding = false;
      await expectEventually(async () => (await redis.exists(key)) === 0);
      expect(await broker.history(alice, start)).toBe("gone");
    });

    it("bounds a stream's length; a device that fell behind it must resync", async () => {
      const broker = await node({ maxEntries: 10 });
      await broker.position(alice);
      for (let i = 0; i < 300; i++) await broker.publish([{ stream: alice, payload: `"i":${i}` }]);
      expect(await redis.xlen(`${prefix}{alice}s:phone`)).toBeLessThan(300);
      const position = await broker.position(alice);
      expect(position.offset).toBe(300);
      expect(await broker.history(alice, { ...position, offset: 0 })).toBe("gone");
      expect(await broker.history(alice, { ...position, offset: 299 })).toEqual([
        { offset: 300, payload: '"i":299' },
      ]);
    });

    it("after Redis lost its data, a resuming device is told to resync and offsets restart", async () => {
      const broker = await node();
      const listener = heard(broker);
      const before = await broker.position(alice);
      await broker.publish([{ stream: alice, payload: '"i":1' }]);
      await listener.entriesOf(alice, 1);
      await dropRedisKeys(prefix);
      expect(await broker.history(alice, { ...before, offset: 1 })).toBe("gone");
      const after = await broker.position(alice);
      expect(after.offset).toBe(0);
      expect(after.epoch).not.toBe(before.epoch);
      await broker.publish([{ stream: alice, payload: '"i":2' }]);
      const entries = await listener.entriesOf(alice, 2);
      expect(entries.map((e) => [e.offset, e.payload, e.epoch])).toEqual([
        [1, '"i":1', before.epoch],
        [1, '"i":2', after.epoch],
      ]);
    });

    it("refuses a retention or length that is not positive, and publishing once closed", async () => {
      await expect(
        RedisStreamBroker.open({ url: redisUrl, prefix: newPrefix(), retentionMs: 0 }),
      ).rejects.toThrow(/must be positive/);
      const broker = await node();
      await broker.close();
      await expect(broker.publish([{ stream: alice, payload: "x" }])).rejects.toThrow(/closed/);
    });
  });
});
