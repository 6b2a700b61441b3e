// One contract every Bus must keep, run against each backend.
import { describe, expect, it } from "vitest";
import type { Bus, BusMessage } from "../../src/bus/bus.js";

export function describeBus(name: string, open: () => Promise<Bus>): void {
  describe(`Bus contract: ${name}`, () => {
    it("delivers each message to every subscriber in publish order", async () => {
      const bus = await open();
      try {
        const a: string[] = [];
        const b: string[] = [];
        bus.subscribe((m) => a.push(m.callID));
        bus.subscribe((m) => b.push(m.callID));
        const message = (callID: string): BusMessage => ({ callID, deliveries: [] });
        for (const id of ["1", "2", "3"]) await bus.publish(message(id));
        expect(a).toEqual(["1", "2", "3"]);
        expect(b).toEqual(["1", "2", "3"]);
      } finally {
        await bus.close();
      }
    });

    it("delivers nothing after close", async () => {
      const bus = await open();
      const got: string[] = [];
      bus.subscribe((m) => got.push(m.callID));
      await bus.close();
      await bus.publish({ callID: "late", deliveries: [] }).catch(() => undefined);
      expect(got).toEqual([]);
    });
  });
}
