// Runs the kit-shaped sources headless in Node against a real Beckon server, with ZIM's module
// swapped for @beckon/sdk and nothing else changed. Each kit is its own app: ZIM is one singleton
// per process, so every device loads a fresh copy of the SDK. The uni-app service finds the server
// through BECKON_SERVER_URL; the React Native app registers it with ZIM.setServer at start-up.
import type { ZIM } from "@beckon/sdk";
import { type BeckonServer, createServer, signToken } from "@beckon/server";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WaitableLog } from "../fake-beckon-server.js";
import type { PluginNotice, SignalingPlugin } from "./kits/rn-signaling-plugin.js";
import type { CallInvitationService, KitNotice } from "./kits/uni-call-invitation-service.js";

const SECRET = "zim-compat-secret-0123456789abcdef";
const APP_ID = 1_234_567;
const ACCEPTED = 1;
const CANCELLED = 3;
const TIMEOUT = 6;
const CONNECTED = 2;

let server: BeckonServer;
const cleanups: Array<() => unknown> = [];

beforeEach(async () => {
  server = await createServer({ secret: SECRET, logLevel: "silent", port: 0 });
  vi.stubEnv("BECKON_SERVER_URL", server.url);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await server.close();
  vi.unstubAllEnvs();
});

const token = (userID: string, ttlSeconds = 3_600) =>
  signToken({ secret: SECRET, userID, ttlSeconds });

interface UniDevice {
  kit: CallInvitationService;
  log: WaitableLog<KitNotice>;
}

interface RnDevice {
  plugin: SignalingPlugin;
  log: WaitableLog<PluginNotice>;
}

/** A uni-app / mini-program app using the service, logged in. */
async function uniApp(userID: string): Promise<UniDevice> {
  vi.resetModules();
  const { CallInvitationService } = await import("./kits/uni-call-invitation-service.js");
  const log = new WaitableLog<KitNotice>();
  const kit = new CallInvitationService((notice) => log.push(notice));
  kit.init(APP_ID);
  cleanups.push(() => kit.destroy());
  await kit.login(userID, `name of ${userID}`, await token(userID));
  await log.waitFor((notice) => notice.type === "connected");
  return { kit, log };
}

/** A React Native app with the signaling plugin; logged in unless told otherwise. */
async function reactNativeApp(
  userID: string,
  options: { ttlSeconds?: number; login?: boolean } = {},
): Promise<RnDevice> {
  vi.resetModules();
  const sdk = await import("@beckon/sdk");
  const { SignalingPlugin } = await import("./kits/rn-signaling-plugin.js");
  // The app's start-up code, outside the kit: where its Beckon server is.
  sdk.ZIM.setServer(server.url, APP_ID);
  const log = new WaitableLog<PluginNotice>();
  const plugin = new SignalingPlugin(
    sdk,
    (notice) => log.push(notice),
    () => token(userID),
  );
  plugin.create(APP_ID, "app-sign-unused");
  cleanups.push(() => plugin.destroy());
  if (options.login !== false) await rnLogin({ plugin, log }, userID, options.ttlSeconds);
  return { plugin, log };
}

async function rnLogin(device: RnDevice, userID: string, ttlSeconds?: number): Promise<void> {
  const connectedBefore = device.log.items.filter(isConnected).length;
  await device.plugin.login({ userID, userName: userID }, await token(userID, ttlSeconds));
  await device.log.waitFor(isConnected, connectedBefore + 1);
}

const isConnected = (notice: PluginNotice) =>
  notice.type === "connection" && notice.state === CONNECTED;

const of = <T extends { type: string }, K extends T["type"]>(type: K, log: WaitableLog<T>) =>
  log.items.filter((item): item is Extract<T, { type: K }> => item.type === type);

describe("ZIM call kits on Beckon, only the import changed", () => {
  it("invite and accept", async () => {
    const alice = await uniApp("alice");
    const bob = await reactNativeApp("bob");
    const { callID, failed } = await alice.kit.call(["bob"], 1, 30);
    expect(failed).toEqual([]);
    expect(
      await bob.log.waitFor((n) => n.type === "invitationReceived" && n.callID === callID),
    ).toMatchObject({ inviter: "alice", data: JSON.stringify({ type: 1, inviterName: "alice" }) });

    await bob.plugin.accept(callID);
    await alice.log.waitFor(
      (n) => n.type === "outgoingAccepted" && n.callID === callID && n.invitee === "bob",
    );
    await alice.log.waitFor((n) => n.type === "outgoingDone" && n.callID === callID);
    await bob.log.waitFor(
      (n) => n.type === "ownState" && n.callID === callID && n.state === ACCEPTED,
    );
  });

  it("reject: the React Native caller hears it through the deprecated event too", async () => {
    const alice = await uniApp("alice");
    const bob = await reactNativeApp("bob");
    const { callID } = await bob.plugin.invite(["alice"], 30, JSON.stringify({ type: 1 }));
    await alice.log.waitFor((n) => n.type === "incoming" && n.callID === callID);
    await alice.kit.decline("no thanks");

    expect(
      await bob.log.waitFor((n) => n.type === "invitationRejected" && n.callID === callID),
    ).toEqual({
      type: "invitationRejected",
      callID,
      invitee: "alice",
      data: JSON.stringify({ reason: "no thanks" }),
    });
    expect(of("invitationAccepted", bob.log)).toEqual([]);
  });

  it("cancel: the invitee's kit learns it from the cancel and from its own state", async () => {
    const alice = await uniApp("alice");
    const bob = await reactNativeApp("bob");
    const { callID } = await alice.kit.call(["bob"], 0, 30);
    await bob.log.waitFor((n) => n.type === "invitationReceived" && n.callID === callID);
    await alice.kit.cancel();

    expect(
      await bob.log.waitFor((n) => n.type === "invitationCancelled" && n.callID === callID),
    ).toMatchObject({ inviter: "alice" });
    // SPEC §4 / ZIM: the invitee's own devices get their own new state.
    await bob.log.waitFor(
      (n) => n.type === "ownState" && n.callID === callID && n.state === CANCELLED,
    );
  });

  it("timeout: both sides hear it, the invitee also through its own state", async () => {
    const alice = await uniApp("alice");
    const bob = await reactNativeApp("bob");
    const { callID } = await alice.kit.call(["bob"], 0, 1);
    await bob.log.waitFor((n) => n.type === "invitationReceived" && n.callID === callID);

    await bob.log.waitFor((n) => n.type === "invitationTimeout" && n.callID === callID);
    await bob.log.waitFor(
      (n) => n.type === "ownState" && n.callID === callID && n.state === TIMEOUT,
    );
    await alice.log.waitFor(
      (n) => n.type === "outgoingTimeout" && n.callID === callID && n.invitee === "bob",
    );
    await alice.log.waitFor((n) => n.type === "outgoingDone" && n.callID === callID);
  });

  it("a group of 2: one accepts, one does not answer", async () => {
    const alice = await uniApp("alice");
    const carol = await uniApp("carol");
    const bob = await reactNativeApp("bob");
    const { callID, errorInvitees } = await bob.plugin.invite(["alice", "carol"], 2, "{}");
    expect(errorInvitees).toEqual([]);
    await alice.log.waitFor((n) => n.type === "incoming" && n.callID === callID);
    await carol.log.waitFor((n) => n.type === "incoming" && n.callID === callID);
    await alice.kit.accept();

    expect(
      await bob.log.waitFor((n) => n.type === "invitationAccepted" && n.callID === callID),
    ).toMatchObject({ invitee: "alice" });
    await carol.log.waitFor((n) => n.type === "incomingTimeout" && n.callID === callID);
    expect(
      await bob.log.waitFor((n) => n.type === "inviteesAnsweredTimeout" && n.callID === callID),
    ).toMatchObject({ invitees: ["carol"] });
    // Each deprecated event once per transition.
    expect(of("invitationAccepted", bob.log)).toHaveLength(1);
    expect(of("inviteesAnsweredTimeout", bob.log)).toHaveLength(1);
  });

  it("busy: a kit already in a call declines the next invitation by itself", async () => {
    const alice = await uniApp("alice");
    const carol = await uniApp("carol");
    const bob = await reactNativeApp("bob");
    const first = await alice.kit.call(["carol"], 0, 30);
    await carol.log.waitFor((n) => n.type === "incoming" && n.callID === first.callID);
    await carol.kit.accept();
    await alice.log.waitFor((n) => n.type === "outgoingAccepted");

    const { callID } = await bob.plugin.invite(["carol"], 30, "{}");
    await carol.log.waitFor((n) => n.type === "autoRejected" && n.callID === callID);
    expect(
      await bob.log.waitFor((n) => n.type === "invitationRejected" && n.callID === callID),
    ).toMatchObject({ invitee: "carol", data: JSON.stringify({ reason: "busy" }) });
    expect(of("incoming", carol.log).map((n) => n.callID)).toEqual([first.callID]);
    // The kit declines without waiting for the answer, which may still be on its way to carol
    // when bob hears of the decline. One more round trip on carol's socket brings it in, so the
    // teardown does not cut the decline's request off.
    const carolZim = (carol.kit as unknown as { zim: ZIM }).zim;
    await carolZim.queryCallInvitationList({ count: 1, nextFlag: 0 });
  });

  it("offline, then login: the invitation waits for the device", async () => {
    const dave = await reactNativeApp("dave");
    await dave.plugin.logout();
    const alice = await uniApp("alice");
    const { callID } = await alice.kit.call(["dave"], 0, 60);

    await rnLogin(dave, "dave");
    await dave.log.waitFor((n) => n.type === "invitationReceived" && n.callID === callID);
    await dave.plugin.accept(callID);
    await alice.log.waitFor((n) => n.type === "outgoingAccepted" && n.invitee === "dave");
  });

  it("renews its token when ZIM says it will expire", async () => {
    const erin = await reactNativeApp("erin", { ttlSeconds: 31 });
    await erin.log.waitFor((n) => n.type === "tokenRenewed");
  });

  it("loads next to the IM parts, and an IM call rejects as unsupported", async () => {
    const bob = await reactNativeApp("bob");
    expect(bob.plugin.getVersion()).toMatch(/^2\.29\.0\+beckon\./);
    await expect(bob.plugin.sendCommand("room-1", "mute")).rejects.toMatchObject({
      code: 6000013,
      message: expect.stringMatching(/sendMessage is not supported by Beckon/),
    });
  });

  it("queries its call history with a count over 100", async () => {
    const alice = await uniApp("alice");
    const bob = await reactNativeApp("bob");
    const { callID } = await alice.kit.call(["bob"], 0, 30);
    await bob.log.waitFor((n) => n.type === "invitationReceived" && n.callID === callID);
    const history = await bob.plugin.history();
    expect(history).toHaveLength(1);
    expect(history[0]?.map((user) => user.userID)).toEqual(["alice", "bob"]);
  });
});
