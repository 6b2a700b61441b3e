// queryCallInvitationList: newest first, ZIMCallInfo shape, paging that neither skips nor repeats
// while new calls keep arriving, and its validation.
import { CallInvitationMode, CallState, CallUserState, ErrorCode } from "@beckon/protocol";
import { expect, it } from "vitest";
import { useWorld } from "./support/world.js";

const world = useWorld();

it("pages through 250 calls while more are created between pages", async () => {
  const server = await world.server({ rateLimit: { burst: 5_000, perSecond: 5_000 } });
  const pager = await world.device(server, "pager");
  const callers = await Promise.all(
    ["c0", "c1", "c2", "c3", "c4"].map((u) => world.device(server, u)),
  );
  // Each caller rings the pager and hangs up, so it is free to call again.
  const ring = async (i: number) => {
    const caller = callers[i % callers.length]!;
    const { callID } = await caller.client.callInvite(["pager"], {
      timeout: 60,
      extendedData: `#${i}`,
    });
    await caller.client.callCancel([], callID, {});
    return callID;
  };
  const created: string[] = [];
  for (let i = 0; i < 250; i += callers.length) {
    created.push(...(await Promise.all(callers.map((_, k) => ring(i + k)))));
  }

  const seen: string[] = [];
  let nextFlag = 0;
  let extra = 250;
  do {
    const page = await pager.client.queryCallInvitationList({ count: 37, nextFlag });
    expect(page.callList.length).toBeLessThanOrEqual(37);
    seen.push(...page.callList.map((c) => c.callID));
    nextFlag = page.nextFlag;
    await ring(extra++); // a newer call must not shift the remaining pages
  } while (nextFlag !== 0);
  const originals = new Set(created);
  const seenOriginals = seen.filter((id) => originals.has(id));
  expect(new Set(seen).size).toBe(seen.length);
  expect(seenOriginals.length).toBe(250);
  // Newest first: the first page starts with the newest call at the time it was read.
  const createdOrder = new Map(created.map((id, i) => [id, i]));
  const orderSeen = seenOriginals.map((id) => createdOrder.get(id) as number);
  for (let i = 1; i < orderSeen.length; i++) {
    // Calls created in one parallel batch may tie; batches must be strictly newest first.
    expect(Math.floor(orderSeen[i]! / 5)).toBeLessThanOrEqual(Math.floor(orderSeen[i - 1]! / 5));
  }
  // SPEC §5: a count over 100 is treated as 100, not refused.
  const capped = await pager.client.queryCallInvitationList({ count: 1_000, nextFlag: 0 });
  expect(capped.callList).toHaveLength(100);
  expect(capped.nextFlag).not.toBe(0);
}, 60_000);

it("returns the full ZIMCallInfo shape, with inviter as this user sees it", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  const bob = await world.device(server, "bob");
  const carol = await world.device(server, "carol");
  const { callID } = await alice.client.callInvite(["bob"], {
    mode: CallInvitationMode.Advanced,
    timeout: 60,
    extendedData: "meta",
  });
  await bob.waitFor("callInvitationReceived");
  await bob.client.callAccept(callID, { extendedData: "ok" });
  await bob.client.callingInvite(["carol"], callID, {});
  await carol.waitFor("callInvitationReceived");
  await bob.waitFor("callUserStateChanged", (e) =>
    e.callUserList.some((u) => u.userID === "carol" && u.state === CallUserState.Received),
  );
  const { callList, nextFlag } = await carol.client.queryCallInvitationList({
    count: 100,
    nextFlag: 0,
  });
  expect(nextFlag).toBe(0);
  expect(callList).toEqual([
    {
      callID,
      caller: "alice",
      inviter: "bob",
      createTime: expect.any(Number),
      endTime: 0,
      state: CallState.Started,
      mode: CallInvitationMode.Advanced,
      extendedData: "meta",
      callUserList: [
        { userID: "alice", state: CallUserState.Accepted, extendedData: "" },
        { userID: "bob", state: CallUserState.Accepted, extendedData: "ok" },
        { userID: "carol", state: CallUserState.Received, extendedData: "" },
      ],
    },
  ]);
});

it("refuses a count below 1, a fractional count or a bad nextFlag with 6000001", async () => {
  const server = await world.server();
  const alice = await world.device(server, "alice");
  for (const config of [{ count: 0 }, { count: -5 }, { count: 2.5 }, { count: 10, nextFlag: -1 }]) {
    await expect(alice.client.queryCallInvitationList(config)).rejects.toMatchObject({
      code: ErrorCode.ParamsInvalid,
    });
  }
});
