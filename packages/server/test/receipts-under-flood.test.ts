// Receipts are never rate-limited away: an invitee whose app floods the server with requests
// still acknowledges every invitation, so its caller sees it Received, not NotYetReceived.
import { CallUserState, ErrorCode } from "@beckon/protocol";
import { expect, it } from "vitest";
import { useWorld } from "./support/world.js";

const world = useWorld();

it("every invitee reaches Received while its app floods requests", async () => {
  const server = await world.server({ rateLimit: { burst: 20, perSecond: 0.1 } });
  const alice = await world.device(server, "alice");
  const invitees = ["bob", "carol", "dave", "erin"];
  const devices = await Promise.all(invitees.map((userID) => world.device(server, userID)));
  // Each invitee's app asks for more than its request budget, right before the invitation lands.
  const floods = devices.flatMap((device) =>
    Array.from({ length: 30 }, () =>
      device.client.queryCallInvitationList({ count: 1 }).then(
        () => 0,
        (error: { code?: number }) => error.code,
      ),
    ),
  );
  const { callID } = await alice.client.callInvite(invitees, {
    timeout: 30,
    enableNotReceivedCheck: true,
  });
  for (const userID of invitees) {
    await alice.waitFor("callUserStateChanged", (event) =>
      event.callUserList.some(
        (user) => user.userID === userID && user.state === CallUserState.Received,
      ),
    );
  }
  const codes = await Promise.all(floods);
  const limited = codes.filter((code) => code === ErrorCode.ServerFrequencyLimit);
  // The flood did exceed the budget: the receipts went through anyway.
  expect(limited.length).toBeGreaterThan(0);
  for (const userID of invitees) {
    expect(alice.stateOf(callID, userID)).toBe(CallUserState.Received);
  }
});
