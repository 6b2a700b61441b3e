// The runtimes ZIM's kits run on besides browsers and Node: React Native (a global WebSocket, and
// Metro resolving the browser-safe entry) and WeChat mini-programs / uni-app (no WebSocket, only
// `wx.connectSocket` / `uni.connectSocket`). Each drives a real Beckon server through a faithful
// fake of the platform's socket API, using the browser entry as those bundlers do.
import { readFileSync } from "node:fs";
import { type BeckonServer, createServer, signToken } from "@beckon/server";
import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import {
  BeckonClient,
  ErrorCode,
  ZIM,
  ZIMCallUserState,
  ZIMConnectionState,
  type ZIMEventMap,
} from "../src/index.js";
import { type FakeSocketPlatform, fakeSocketPlatform } from "./fakes/mini-program-socket-api.js";
import { ReactNativeWebSocket } from "./fakes/react-native-web-socket.js";

const SECRET = "runtime-entries-secret-0123456789";
const servers: BeckonServer[] = [];
const callers: BeckonClient[] = [];
const platforms: FakeSocketPlatform[] = [];

afterEach(async () => {
  await ZIM.getInstance()?.destroy();
  await Promise.all(callers.splice(0).map((client) => client.destroy()));
  for (const platform of platforms.splice(0)) platform.terminateAll();
  await Promise.all(servers.splice(0).map((server) => server.close()));
  vi.unstubAllGlobals();
});

async function startServer(): Promise<BeckonServer> {
  const server = await createServer({ secret: SECRET, logLevel: "silent", port: 0 });
  servers.push(server);
  return server;
}

const token = (userID: string) => signToken({ secret: SECRET, userID, ttlSeconds: 600 });

/** Resolves with the first event of `name` the instance emits that matches. */
function next<K extends keyof ZIMEventMap>(
  zim: ZIM,
  name: K,
  match: (data: ZIMEventMap[K]) => boolean = () => true,
): Promise<ZIMEventMap[K]> {
  return new Promise((resolve) => {
    const listener = (_zim: ZIM, data: ZIMEventMap[K]) => {
      if (!match(data)) return;
      zim.off(name, listener);
      resolve(data);
    };
    zim.on(name, listener);
  });
}

/**
 * The kit's device (the ZIM singleton, on the platform under test) is rung by a caller on the
 * `ws` package and accepts; the caller sees the acceptance. Both sides are real server traffic.
 */
async function ringAndAccept(server: BeckonServer): Promise<void> {
  ZIM.setServer(server.url);
  const zim = ZIM.create({ appID: 7 });
  if (!zim) throw new Error("no ZIM instance");
  const connected = next(
    zim,
    "connectionStateChanged",
    (e) => e.state === ZIMConnectionState.Connected,
  );
  await zim.login("kit-user", { token: await token("kit-user") });
  await connected;

  const caller = new BeckonClient({ url: server.url, WebSocket });
  callers.push(caller);
  await caller.login("caller", { token: await token("caller") });
  const received = next(zim, "callInvitationReceived");
  const { callID } = await caller.callInvite(["kit-user"], { timeout: 30 });
  expect((await received).callID).toBe(callID);

  const accepted = new Promise<void>((resolve) => {
    caller.on("callUserStateChanged", (_client, data) => {
      const kitUser = data.callUserList.find((user) => user.userID === "kit-user");
      if (data.callID === callID && kitUser?.state === ZIMCallUserState.Accepted) resolve();
    });
  });
  await zim.callAccept(callID, { extendedData: "" });
  await accepted;
  await zim.logout();
}

describe("React Native", () => {
  it("runs on React Native's global WebSocket", async () => {
    vi.stubGlobal("WebSocket", ReactNativeWebSocket);
    const before = ReactNativeWebSocket.opened.length;
    await ringAndAccept(await startServer());
    expect(ReactNativeWebSocket.opened.length).toBeGreaterThan(before);
  });

  it("points Metro at the browser-safe entry, with or without package exports", () => {
    const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    // Metro with package exports picks the first condition it knows, in declaration order.
    const metroConditions = new Set(["react-native", "import", "require", "default"]);
    const conditions = Object.entries(manifest.exports["."] as Record<string, string>);
    const [, picked] = conditions.find(([name]) => metroConditions.has(name)) ?? [];
    expect(picked).toBe("./dist/index.js");
    // Older Metro ignores "exports" and reads these fields in this order.
    const legacy = ["react-native", "browser", "main"].map((field) => manifest[field]);
    expect(legacy).toEqual(["./dist/index.js", "./dist/index.js", "./dist/index.js"]);
  });
});

describe.each(["wx", "uni"] as const)("mini-program socket API (%s)", (platformName) => {
  it("connects through connectSocket when there is no WebSocket global", async () => {
    const platform = fakeSocketPlatform(platformName);
    platforms.push(platform);
    vi.stubGlobal("WebSocket", undefined);
    vi.stubGlobal(platformName, platform);
    const server = await startServer();
    await ringAndAccept(server);
    // Every connection went through the platform, and logout closed it with a code it accepts.
    expect(platform.sockets.length).toBeGreaterThan(0);
    expect(platform.sockets.every((socket) => socket.url === server.url)).toBe(true);
    expect(platform.sockets.at(-1)?.sent).toBeGreaterThan(0);
    expect(platform.sockets.at(-1)?.closedWith).toEqual({ code: 1000, reason: "" });
  });

  it("reports a server it cannot reach as a failed login, without hanging", async () => {
    const platform = fakeSocketPlatform(platformName);
    platforms.push(platform);
    vi.stubGlobal("WebSocket", undefined);
    vi.stubGlobal(platformName, platform);
    // A port nothing listens on: the platform reports onError, then onClose.
    const server = await startServer();
    const url = server.url;
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    const zim = ZIM.create({ appID: 8, server: url });
    await expect(zim?.login("kit-user", { token: "t" })).rejects.toMatchObject({
      code: ErrorCode.NetworkError,
    });
    expect(zim?.connectionState).toBe(ZIMConnectionState.Disconnected);
    expect(platform.sockets).toHaveLength(1);
  });
});
