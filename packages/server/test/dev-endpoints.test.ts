// The development-only HTTP endpoints: tokens for anyone, and who is online. Both are absent
// unless the server runs with `devTokens` (as `beckon start` does in development mode).
import { decodeJwt } from "jose";
import { expect, it } from "vitest";
import { useWorld } from "./support/world.js";

const world = useWorld();

it("POST /dev/token mints a token for a valid user ID only", async () => {
  const server = await world.server({ devTokens: true });
  const ok = await fetch(`${server.httpUrl}/dev/token`, {
    method: "POST",
    body: '{"userID":"zoe"}',
  });
  expect(decodeJwt(((await ok.json()) as { token: string }).token).sub).toBe("zoe");
  const bad = await fetch(`${server.httpUrl}/dev/token`, {
    method: "POST",
    body: '{"userID":"a b"}',
  });
  expect(bad.status).toBe(400);
  const garbage = await fetch(`${server.httpUrl}/dev/token`, { method: "POST", body: "{{" });
  expect(garbage.status).toBe(400);
});

it("GET /dev/online lists users with a connected device, and forgets them when they leave", async () => {
  const server = await world.server({ devTokens: true });
  const online = async () =>
    (
      (await (await fetch(`${server.httpUrl}/dev/online`)).json()) as { userIDs: string[] }
    ).userIDs.sort();
  expect(await online()).toEqual([]);
  const alice = await world.device(server, "alice");
  await world.device(server, "bob");
  expect(await online()).toEqual(["alice", "bob"]);
  await alice.client.logout();
  expect(await online()).toEqual(["bob"]);
});

it("without devTokens neither endpoint exists", async () => {
  const server = await world.server();
  expect((await fetch(`${server.httpUrl}/dev/online`)).status).toBe(404);
  expect(
    (await fetch(`${server.httpUrl}/dev/token`, { method: "POST", body: '{"userID":"a"}' })).status,
  ).toBe(404);
});
