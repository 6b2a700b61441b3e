// One contract every Presence must keep, run against each backend. The presences `open` gives
// within one test share their sessions, as the nodes of a cluster do.
import { afterEach, describe, expect, it } from "vitest";
import type { DeviceState, Presence } from "../../src/presence/presence.js";

function session(deviceID: string, loginTime: number, nodeID = "node1"): DeviceState {
  return { userID: "alice", deviceID, nodeID, loginTime, awaySince: 0 };
}

const byDevice = (a: DeviceState, b: DeviceState) => a.deviceID.localeCompare(b.deviceID);

export function describePresence(name: string, open: () => Promise<Presence>): void {
  describe(`Presence contract: ${name}`, () => {
    const opened: Presence[] = [];
    const node = async () => {
      const presence = await open();
      opened.push(presence);
      return presence;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((presence) => presence.close()));
    });

    it("lists a user's sessions to every node; a new login of a device replaces its old one", async () => {
      const [one, two] = [await node(), await node()];
      expect(await one.join(session("phone", 1_000), 10)).toEqual([]);
      expect(await two.join(session("laptop", 2_000, "node2"), 10)).toEqual([]);
      expect(await one.join(session("phone", 3_000, "node2"), 10)).toEqual([]);
      expect((await two.devicesOf("alice")).sort(byDevice)).toEqual([
        session("laptop", 2_000, "node2"),
        session("phone", 3_000, "node2"),
      ]);
      expect(await one.devicesOf("nobody")).toEqual([]);
    });

    it("pushes the oldest sessions out past the cap", async () => {
      const presence = await node();
      await presence.join(session("a", 3_000), 2);
      await presence.join(session("b", 1_000), 2);
      expect(await presence.join(session("c", 5_000), 2)).toEqual([session("b", 1_000)]);
      expect(await presence.join(session("d", 6_000), 1)).toEqual([
        session("a", 3_000),
        session("c", 5_000),
      ]);
      expect(await presence.devicesOf("alice")).toEqual([session("d", 6_000)]);
    });

    it("keeps the cap when nodes log one user in at the same time", async () => {
      const nodes = [await node(), await node(), await node()];
      const logins = Array.from({ length: 12 }, (_, i) =>
        session(`d${i}`, 1_000 + i, `node${i % 3}`),
      );
      const pushed = await Promise.all(
        logins.map((login, i) => (nodes[i % 3] as Presence).join(login, 4)),
      );
      const left = await (nodes[0] as Presence).devicesOf("alice");
      expect(left).toHaveLength(4);
      // Every login either stayed or was pushed out by exactly one later login.
      expect([...left, ...pushed.flat()].map((s) => s.deviceID).sort()).toEqual(
        logins.map((s) => s.deviceID).sort(),
      );
    });

    it("marks a session away and back, on whichever node holds it", async () => {
      const [one, two] = [await node(), await node()];
      await one.join(session("phone", 1_000), 10);
      await two.mark({ userID: "alice", deviceID: "phone" }, "node1", 4_000);
      expect(await one.devicesOf("alice")).toEqual([
        { ...session("phone", 1_000), awaySince: 4_000 },
      ]);
      await one.mark({ userID: "alice", deviceID: "phone" }, "node2", 0);
      expect(await two.devicesOf("alice")).toEqual([session("phone", 1_000, "node2")]);
      // Marking a session that is not there creates nothing.
      await one.mark({ userID: "alice", deviceID: "ghost" }, "node1", 0);
      expect(await two.devicesOf("alice")).toHaveLength(1);
    });

    it("leaves only the login it was asked to end", async () => {
      const presence = await node();
      await presence.join(session("phone", 1_000), 10);
      await presence.join(session("phone", 2_000), 10);
      await presence.leave({ userID: "alice", deviceID: "phone" }, 1_000);
      expect(await presence.devicesOf("alice")).toEqual([session("phone", 2_000)]);
      await presence.leave({ userID: "alice", deviceID: "phone" }, 2_000);
      expect(await presence.devicesOf("alice")).toEqual([]);
    });
  });
}
