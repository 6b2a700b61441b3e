// Pins the ZIM façade's drop-in behaviour: the singleton, the required server URL, and
// listeners that receive the ZIM instance.
import { ConnectionState, ErrorCode, ZIM, ZIMCallUserState, ZIMConnectionState } from "@beckon/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { FakeBeckonServer, WaitableLog } from "./fake-beckon-server.js";

const servers: FakeBeckonServer[] = [];

afterEach(async () => {
  await ZIM.getInstance()?.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe("ZIM façade", () => {
  it("keeps one instance until destroy", async () => {
    expect(ZIM.getInstance()).toBeNull();
    const zim = ZIM.create({ appID: 1, server: "ws://127.0.0.1:1" });
    expect(zim).not.toBeNull();
    expect(ZIM.create({ appID: 2, server: "ws://127.0.0.1:2" })).toBe(zim);
    expect(ZIM.getInstance()).toBe(zim);
    await zim?.destroy();
    expect(ZIM.getInstance()).toBeNull();
  });

  it("creates an instance from create(appID) with no server known, whose login says what is missing", async () => {
    const zim = ZIM.create(12345);
    expect(zim).toBe(ZIM.getInstance());
    await expect(zim?.login("alice", { token: "t" })).rejects.toMatchObject({
      code: ErrorCode.ParamsInvalid,
      message: expect.stringMatching(/ZIM\.setServer/),
    });
    await expect(zim?.callInvite(["bob"], { timeout: 30 })).rejects.toMatchObject({
      code: ErrorCode.UserIsNotLogged,
    });
  });

  it("passes the ZIM instance to listeners and exposes ZIM's enum names", async () => {
    const server = await FakeBeckonServer.start();
    servers.push(server);
    const zim = ZIM.create({ appID: 1, server: server.url });
    if (!zim) throw new Error("no instance");
    const owners = new WaitableLog<ZIM>();
    zim.on("connectionStateChanged", (owner, data) => {
      if (data.state === ZIMConnectionState.Connected) owners.push(owner);
    });

    await expect(zim.callInvite(["bob"], { timeout: 30 })).rejects.toMatchObject({
      code: ErrorCode.UserIsNotLogged,
    });
    await zim.login("alice", { token: "token-a", userName: "Alice", isOfflineLogin: false });

    expect(await owners.waitFor(() => true)).toBe(zim);
    expect(zim.connectionState).toBe(ConnectionState.Connected);
    expect(ZIMCallUserState.Received).toBe(5);
  });
});
