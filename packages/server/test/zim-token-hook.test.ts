// A kit hands ZIM's `login` the token it got for ZEGO; the façade's token hook (on setServer)
// lets the app swap in a Beckon token, so the kit itself needs no change.
import { ErrorCode } from "@beckon/protocol";
import { ZIM, ZIMConnectionState } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import { afterEach, expect, it } from "vitest";
import { clearServers } from "../../sdk/src/zim-server-config.js";
import { SECRET, useWorld } from "./support/world.js";
import { generateToken04 } from "./support/zego-token04.js";

const world = useWorld();

afterEach(async () => {
  await ZIM.getInstance()?.destroy();
  clearServers();
});

const kitToken = (userID: string) =>
  generateToken04({
    appID: 42,
    userID,
    serverSecret: "fa94dd0f974cf2e293728a526b028271",
    effectiveTimeInSeconds: 3600,
  });

it("maps the kit's token to a Beckon token on login and renewToken", async () => {
  const server = await world.server();
  const seen: Array<{ token: string; userID: string; userName?: string }> = [];
  ZIM.setServer(server.url, {
    appID: 42,
    token: async (tokenFromKit, userInfo) => {
      seen.push({ token: tokenFromKit, ...userInfo });
      return signToken({ secret: SECRET, userID: userInfo.userID, ttlSeconds: 600 });
    },
  });
  ZIM.create({ appID: 42 });
  const zim = ZIM.getInstance() as ZIM;
  const first = kitToken("alice");
  await zim.login({ userID: "alice", userName: "Alice" }, first);
  expect(zim.connectionState).toBe(ZIMConnectionState.Connected);
  const second = kitToken("alice");
  await zim.renewToken(second);
  expect(seen).toEqual([
    { token: first, userID: "alice", userName: "Alice" },
    { token: second, userID: "alice" },
  ]);
});

it("without a hook the kit's ZEGO token is refused, and a failing hook rejects the login", async () => {
  const server = await world.server();
  ZIM.setServer(server.url);
  ZIM.create({ appID: 42 });
  await expect(
    (ZIM.getInstance() as ZIM).login("alice", { token: kitToken("alice") }),
  ).rejects.toMatchObject({ code: ErrorCode.TokenInvalid });
  await ZIM.getInstance()?.destroy();

  ZIM.setServer(server.url, {
    token: () => {
      throw new Error("backend unreachable");
    },
  });
  ZIM.create({ appID: 42 });
  await expect(
    (ZIM.getInstance() as ZIM).login("alice", { token: kitToken("alice") }),
  ).rejects.toMatchObject({
    code: ErrorCode.TokenInvalid,
    message: "the token hook failed: backend unreachable",
  });
});
