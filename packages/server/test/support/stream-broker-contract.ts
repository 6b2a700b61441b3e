// One contract every StreamBroker must keep, run against each backend. `open` gives one node's
// broker; brokers opened in one test share their streams, as the nodes of a cluster do.
import { afterEach, describe, expect, it } from "vitest";
import type { StreamBroker, StreamEntry } from "../../src/streams/stream-broker.js";
import { streamOf } from "../../src/streams/stream-broker.js";

/** Entries a node hears, with a promise for when `count` of one stream have come in. */
export function heard(broker: StreamBroker) {
  const entries = new Map<string, StreamEntry[]>();
  const signals: Array<[string, string]> = [];
  const waiters: Array<() => void> = [];
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const unsubscribe = broker.subscribe(
    (stream, entry) => {
      entries.set(stream, [...(entries.get(stream) ?? []), entry]);
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
    of: (stream: string) => entries.get(stream) ?? [],
    signals,
    unsubscribe,
    entriesOf: (stream: string, count: number) =>
      until(() => (entries.get(stream)?.length ?? 0) >= count).then(
        () => entries.get(stream) ?? [],
      ),
    signalCount: (count: number) => until(() => signals.length >= count),
  };
}

export function describeStreamBroker(name: string, open: () => Promise<StreamBroker>): void {
  describe(`StreamBroker contract: ${name}`, () => {
    const opened: StreamBroker[] = [];
    const node = async () => {
      const broker = await open();
      opened.push(broker);
      return broker;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((broker) => broker.close()));
    });
    const alice = streamOf("alice", "phone");
    const bob = streamOf("bob", "laptop");

    it("numbers each stream's entries from 1 and every node hears them in order", async () => {
      const [one, two] = [await node(), await node()];
      const onOne = heard(one);
      const onTwo = heard(two);
      const start = await one.position(alice);
      expect(start.offset).toBe(0);
      await one.publish([
        { stream: alice, payload: '"ev":"a1"' },
        { stream: bob, payload: '"ev":"b1"' },
        { stream: alice, payload: '"ev":"a2"' },
      ]);
      await two.publish([{ stream: alice, payload: '"ev":"a3"' }]);
      const expected = [
        { offset: 1, payload: '"ev":"a1"' },
        { offset: 2, payload: '"ev":"a2"' },
        { offset: 3, payload: '"ev":"a3"' },
      ];
      expect(await onOne.entriesOf(alice, 3)).toEqual(expected);
      expect(await onTwo.entriesOf(alice, 3)).toEqual(expected);
      expect(await onTwo.entriesOf(bob, 1)).toEqual([{ offset: 1, payload: '"ev":"b1"' }]);
      expect(await two.position(alice)).toEqual({ epoch: start.epoch, offset: 3 });
      expect(await two.history(alice, start)).toEqual(expected);
      expect(await one.history(alice, { ...start, offset: 2 })).toEqual(expected.slice(2));
      expect(await one.history(alice, { ...start, offset: 3 })).toEqual([]);
    });

    it("gives unique offsets to nodes publishing to one stream at once", async () => {
      const nodes = [await node(), await node(), await node()];
      const listener = heard(nodes[0] as StreamBroker);
      await Promise.all(
        nodes.flatMap((broker, n) =>
          Array.from({ length: 10 }, (_, i) =>
            broker.publish([{ stream: alice, payload: `"n":${n},"i":${i}` }]),
          ),
        ),
      );
      const entries = await listener.entriesOf(alice, 30);
      expect(entries.map((entry) => entry.offset)).toEqual(
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      const start = { epoch: (await nodes[1]?.position(alice))?.epoch as string, offset: 0 };
      expect(await nodes[2]?.history(alice, start)).toEqual(entries);
    });

    it("says gone for another epoch, a position ahead of the stream, or trimmed entries", async () => {
      const broker = await node();
      const start = await broker.position(alice);
      await broker.publish([1, 2, 3, 4].map((i) => ({ stream: alice, payload: `"i":${i}` })));
      expect(await broker.history(alice, { epoch: `${start.epoch}x`, offset: 0 })).toBe("gone");
      expect(await broker.history(alice, { ...start, offset: 9 })).toBe("gone");
      await broker.trim(alice, 2);
      expect(await broker.history(alice, { ...start, offset: 1 })).toBe("gone");
      expect(await broker.history(alice, { ...start, offset: 2 })).toEqual([
        { offset: 3, payload: '"i":3' },
        { offset: 4, payload: '"i":4' },
      ]);
    });

    it("starts a reset stream afresh under a new epoch", async () => {
      const broker = await node();
      const before = await broker.position(alice);
      await broker.publish([{ stream: alice, payload: '"i":1' }]);
      const after = await broker.reset(alice);
      expect(after.offset).toBe(0);
      expect(after.epoch).not.toBe(before.epoch);
      expect(await broker.position(alice)).toEqual(after);
      expect(await broker.history(alice, before)).toBe("gone");
      await broker.publish([{ stream: alice, payload: '"i":2' }]);
      expect(await broker.history(alice, after)).toEqual([{ offset: 1, payload: '"i":2' }]);
    });

    it("forgets a dropped stream", async () => {
      const broker = await node();
      const before = await broker.position(alice);
      await broker.publish([{ stream: alice, payload: '"i":1' }]);
      await broker.drop(alice);
      expect(await broker.history(alice, before)).toBe("gone");
      const fresh = await broker.position(alice);
      expect(fresh.offset).toBe(0);
      expect(fresh.epoch).not.toBe(before.epoch);
    });

    it("carries signals to every node, and nothing to a listener that left", async () => {
      const [one, two] = [await node(), await node()];
      const onOne = heard(one);
      const onTwo = heard(two);
      const gone = heard(two);
      gone.unsubscribe();
      await one.signal(bob, '{"ev":"kicked"}');
      await onTwo.signalCount(1);
      await onOne.signalCount(1);
      expect(onTwo.signals).toEqual([[bob, '{"ev":"kicked"}']]);
      // Published after the signal, heard after it: the unsubscribed listener got neither.
      await one.publish([{ stream: bob, payload: '"i":1' }]);
      await onTwo.entriesOf(bob, 1);
      expect(gone.signals).toEqual([]);
      expect(gone.of(bob)).toEqual([]);
    });
  });
}
