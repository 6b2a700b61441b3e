// Pins the shape of the ZIM module that kits rely on beyond the call API: where the server comes
// from, the statics and default export of older and newer SDKs, the deprecated login overload and
// result field, ZIM's error names, and the IM half that must load but refuses to run.
import SdkDefault, {
  ErrorCode,
  ZIM,
  ZIMCallInvitationMode,
  ZIMCallState,
  ZIMCallUserState,
  ZIMConnectionEvent,
  ZIMConnectionState,
  ZIMConversationType,
  ZIMErrorCode,
  ZIMMessageType,
} from "@beckon/sdk";
import { type BeckonServer, createServer, signToken } from "@beckon/server";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clearServers } from "../src/zim-server-config.js";

const SECRET = "zim-module-shape-secret-0123456789";
const servers: BeckonServer[] = [];

afterEach(async () => {
  await ZIM.getInstance()?.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
  clearServers();
  vi.unstubAllEnvs();
});

async function startServer(): Promise<BeckonServer> {
  const server = await createServer({ secret: SECRET, logLevel: "silent", port: 0 });
  servers.push(server);
  return server;
}

const token = (userID: string) => signToken({ secret: SECRET, userID, ttlSeconds: 600 });

function created(config: Parameters<typeof ZIM.create>[0]): ZIM {
  const zim = ZIM.create(config);
  if (!zim) throw new Error("no instance");
  return zim;
}

describe("finding the server", () => {
  it("uses the server registered for the appID before the one for all apps", async () => {
    const right = await startServer();
    ZIM.setServer("ws://127.0.0.1:9/not-this-one");
    ZIM.setServer(right.url, 42);
    const zim = created({ appID: 42 });
    await zim.login("alice", { token: await token("alice") });
    expect(zim.connectionState).toBe(ZIMConnectionState.Connected);
  });

  it("falls back to BECKON_SERVER_URL, looked up again at login when create had none", async () => {
    const server = await startServer();
    const zim = created(7);
    vi.stubEnv("BECKON_SERVER_URL", server.url);
    await zim.login("alice", { token: await token("alice") });
    expect(zim.connectionState).toBe(ZIMConnectionState.Connected);
  });

  it("refuses a URL that is not ws:// or wss://, keeping what was registered", async () => {
    const server = await startServer();
    ZIM.setServer(server.url);
    for (const bad of ["http://example.com", "", "calls.example.com"]) {
      expect(() => ZIM.setServer(bad)).toThrow(expect.objectContaining({ code: 6000001 }));
    }
    expect(() => ZIM.setServer(server.url, 1.5)).toThrow(/appID/);
    const zim = created({ appID: 1 });
    await zim.login("alice", { token: await token("alice") });
    expect(zim.connectionState).toBe(ZIMConnectionState.Connected);
  });
});

describe("module shape", () => {
  it("has the enums as statics, as top-level exports and on the default export", () => {
    expect(ZIM.CallUserState).toBe(ZIMCallUserState);
    expect(ZIM.CallInvitationMode).toBe(ZIMCallInvitationMode);
    expect(ZIM.CallState).toBe(ZIMCallState);
    expect(ZIM.ConnectionState).toBe(ZIMConnectionState);
    expect(ZIM.ConnectionEvent).toBe(ZIMConnectionEvent);
    expect(ZIM.CallUserState.BeCancelled).toBe(10);
    expect(SdkDefault).toBe(ZIM);
    expect([ZIMConversationType.Group, ZIMMessageType.Custom]).toEqual([2, 200]);
  });

  it("reports a version and accepts advanced config", () => {
    expect(ZIM.getVersion()).toMatch(/^2\.29\.0\+beckon\.\d+\.\d+\.\d+$/);
    expect(() => ZIM.setAdvancedConfig("zim_voip_call_id_mode", "1")).not.toThrow();
  });

  it("has ZIM's error names for the codes Beckon uses", () => {
    expect(ZIMErrorCode.CallModuleCommonError).toBe(ErrorCode.CallCommonError);
    expect(ZIMErrorCode.CallModuleDoesNotExist).toBe(6000276);
    expect(ZIMErrorCode.CommonModuleParamsInvalid).toBe(6000001);
    expect(ZIMErrorCode.NetworkModuleUserHasAlreadyLogged).toBe(6000111);
  });
});

describe("session and results", () => {
  it("logs in with the deprecated (userInfo, token) form, and refuses a second account", async () => {
    const server = await startServer();
    const zim = created({ appID: 1, server: server.url });
    await zim.login({ userID: "alice", userName: "Alice" }, await token("alice"));
    expect(zim.connectionState).toBe(ZIMConnectionState.Connected);
    await expect(zim.login("bob", { token: await token("bob") })).rejects.toMatchObject({
      code: ZIMErrorCode.NetworkModuleUserHasAlreadyLogged,
    });
    await zim.logout();
    await zim.login("bob", { token: await token("bob") });
    expect(zim.connectionState).toBe(ZIMConnectionState.Connected);
  });

  it("returns errorInvitees beside errorUserList", async () => {
    const server = await startServer();
    const zim = created({ appID: 1, server: server.url });
    // A known user to ring: bob has logged in once on this device.
    await zim.login("bob", { token: await token("bob") });
    await zim.logout();
    await zim.login("alice", { token: await token("alice") });
    const result = await zim.callInvite(["bob", "nobody"], { timeout: 30 });
    expect(result.errorUserList).toEqual([{ userID: "nobody", reason: 6000281 }]);
    expect(result.errorInvitees).toEqual([
      { userID: "nobody", state: ZIMCallUserState.Unknown, extendedData: "" },
    ]);
  });
});

describe("the IM half of ZIM", () => {
  it("rejects IM calls as not supported, throws for the one that returns nothing", async () => {
    const zim = created({ appID: 1, server: "ws://127.0.0.1:9" });
    await expect(zim.queryConversationList({ count: 10 })).rejects.toMatchObject({
      code: ZIMErrorCode.CommonModuleUnsupportedRequest,
      message: expect.stringMatching(/queryConversationList is not supported by Beckon/),
    });
    await expect(zim.createRoom({ roomID: "r", roomName: "r" })).rejects.toMatchObject({
      code: 6000013,
    });
    expect(() => zim.beginRoomAttributesBatchOperation("r", {})).toThrow(/not supported/);
    expect(() => zim.setLogConfig({ logLevel: "warn" })).not.toThrow();
    await expect(zim.uploadLog()).resolves.toBeUndefined();
  });
});
