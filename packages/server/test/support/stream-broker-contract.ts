// One contract every StreamBroker must keep, run against each backend.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StreamBroker, StreamEntry } from "../../src/streams/stream-broker.js";

export function describeStreamBroker(name: string, open: () => Promise<StreamBroker>): void {
  describe(`StreamBroker contract: ${name}`, () => {
    let broker: StreamBroker;
    beforeEach(async () => {
      broker = await open();
    });
    afterEach(async () => {
      await broker.close();
    });

    /** Resolves once `count` entries of `stream` reached the listener. */
    function collect(stream: string, count: number) {
      const got: Array<StreamEntry & { epoch: string }> = [];
      let unsubscribe = () => {};
      const done = new Promise<typeof got>((resolve) => {
        unsubscribe = broker.subscribe(
          (s, entry, epoch) => {
            if (s !== stream) return;
            got.push({ offset: entry.offset, payload: entry.payload, epoch });
            if (got.length === count) resolve(got);
          },
          () => {},
        );
      });
      return done.finally(unsubscribe);
    }

    it("numbers each stream's entries from 1 and hands them to subscribers in order", async () => {
      const start = await broker.reset("s1");
      const seen = collect("s1", 3);
      await broker.publish([
        { stream: "s1", payload: "a" },
        { stream: "s2", payload: "x" },
        { stream: "s1", payload: "b" },
      ]);
      await broker.publish([{ stream: "s1", payload: "c" }]);
      const entries = await seen;
      expect(entries.map((e) => [e.offset, e.payload])).toEqual([
        [1, "a"],
        [2, "b"],
        [3, "c"],
      ]);
      expect(new Set(entries.map((e) => e.epoch))).toEqual(new Set([start.epoch]));
      expect(await broker.position("s1")).toEqual({ epoch: start.epoch, offset: 3 });
    });

    it("publish returns the position each entry got, and null for one its once key skipped", async () => {
      const s1 = await broker.reset("s1");
      const s2 = await broker.reset("s2");
      const once = { key: "call-1", until: Date.now() + 60_000 };
      const positions = await broker.publish([
        { stream: "s1", payload: "a", once },
        { stream: "s2", payload: "x" },
        { stream: "s1", payload: "b" },
        { stream: "s1", payload: "a again", once },
      ]);
      expect(positions).toEqual([
        { epoch: s1.epoch, offset: 1 },
        { epoch: s2.epoch, offset: 1 },
        { epoch: s1.epoch, offset: 2 },
        null,
      ]);
      expect(await broker.publish([])).toEqual([]);
    });

    it("replays what came after a position, and says gone for another epoch", async () => {
      const start = await broker.reset("s");
      await broker.publish(["a", "b", "c"].map((payload) => ({ stream: "s", payload })));
      expect(await broker.history("s", { epoch: start.epoch, offset: 1 })).toEqual([
        { offset: 2, payload: "b" },
        { offset: 3, payload: "c" },
      ]);
      expect(await broker.history("s", { epoch: start.epoch, offset: 3 })).toEqual([]);
      expect(await broker.history("s", { epoch: "other", offset: 1 })).toBe("gone");
      expect(await broker.history("s", { epoch: start.epoch, offset: 9 })).toBe("gone");
      expect(await broker.history("missing", { epoch: start.epoch, offset: 0 })).toBe("gone");
    });

    it("after a trim, history from before it is gone and from after it is whole", async () => {
      const start = await broker.reset("s");
      await broker.publish(["a", "b", "c", "d"].map((payload) => ({ stream: "s", payload })));
      await broker.trim("s", 2);
      expect(await broker.history("s", { epoch: start.epoch, offset: 0 })).toBe("gone");
      expect(await broker.history("s", { epoch: start.epoch, offset: 2 })).toEqual([
        { offset: 3, payload: "c" },
        { offset: 4, payload: "d" },
      ]);
    });

    it("a reset starts a new epoch from offset 0; a drop forgets the stream", async () => {
      const first = await broker.reset("s");
      await broker.publish([{ stream: "s", payload: "a" }]);
      const second = await broker.reset("s");
      expect(second.epoch).not.toBe(first.epoch);
      expect(second.offset).toBe(0);
      await broker.publish([{ stream: "s", payload: "b" }]);
      expect(await broker.history("s", second)).toEqual([{ offset: 1, payload: "b" }]);
      await broker.drop("s");
      expect(await broker.history("s", second)).toBe("gone");
    });

    it("publishes a keyed entry once per stream until its key expires", async () => {
      const start = await broker.reset("s");
      const until = Date.now() + 60_000;
      await broker.publish([
        { stream: "s", payload: "ring", once: { key: "call-1", until } },
        { stream: "s", payload: "ring again", once: { key: "call-1", until } },
        { stream: "t", payload: "ring", once: { key: "call-1", until } },
        { stream: "s", payload: "expired", once: { key: "call-0", until: 1 } },
        { stream: "s", payload: "expired again", once: { key: "call-0", until: 1 } },
      ]);
      const kept = await broker.history("s", start);
      expect(kept !== "gone" && kept.map((e) => e.payload)).toEqual([
        "ring",
        "expired",
        "expired again",
      ]);
    });

    it("hands signals to subscribers without numbering them", async () => {
      // Read here first, as a device logging in on this node makes it.
      await broker.position("s");
      const got = new Promise<[string, string]>((resolve) => {
        broker.subscribe(
          () => {},
          (stream, frame) => resolve([stream, frame]),
        );
      });
      await broker.signal("s", '{"kind":"kick"}');
      expect(await got).toEqual(["s", '{"kind":"kick"}']);
      expect((await broker.position("s")).offset).toBe(0);
    });
  });
}
