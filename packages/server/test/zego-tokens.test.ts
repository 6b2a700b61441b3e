// An app that already signs ZEGO kit tokens (token04) logs its users in to Beckon with them:
// Beckon is given the app's ZEGO appID and server secret and reads the user and expiry out.
import { ErrorCode } from "@beckon/protocol";
import { describe, expect, it } from "vitest";
import { Device, useWorld } from "./support/world.js";
import { generateToken04 } from "./support/zego-token04.js";

const world = useWorld();
const APP_ID = 1_234_567_890;
const SERVER_SECRET = "fa94dd0f974cf2e293728a526b028271";
const zego = { appID: APP_ID, serverSecret: SERVER_SECRET };
const token04 = (userID: string, extra: Partial<Parameters<typeof generateToken04>[0]> = {}) =>
  generateToken04({
    appID: APP_ID,
    userID,
    serverSecret: SERVER_SECRET,
    effectiveTimeInSeconds: 3600,
    ...extra,
  });

async function loginWith(server: { url: string }, userID: string, token: string) {
  const client = world.client(server.url);
  await client.login(userID, { token });
  return new Device(userID, client);
}

function refused(
  server: { url: string },
  userID: string,
  token: string,
  code: number,
  message: RegExp,
) {
  return expect(world.client(server.url).login(userID, { token })).rejects.toMatchObject({
    code,
    message: expect.stringMatching(message),
  });
}

describe("ZEGO token04", () => {
  it("logs users in with tokens of ZEGO's current and older generators, and renews with them", async () => {
    const server = await world.server({ zego });
    const alice = await loginWith(server, "alice", token04("alice"));
    const bob = await loginWith(
      server,
      "bob",
      token04("bob", { mode: "cbc", payload: '{"room_id":"r1"}' }),
    );
    const { callID } = await alice.client.callInvite(["bob"], { timeout: 30 });
    await bob.waitFor("callInvitationReceived", (data) => data.callID === callID);
    const renewed = await bob.client.renewToken(token04("bob", { effectiveTimeInSeconds: 7200 }));
    expect(renewed).toBeDefined();
    // JWTs keep working beside them.
    await world.device(server, "carol");
  });

  it("refuses another app's, another secret's, expired, tampered and other users' tokens", async () => {
    const server = await world.server({ zego });
    await refused(
      server,
      "alice",
      token04("alice", { appID: APP_ID + 1 }),
      ErrorCode.TokenInvalid,
      /another appID/,
    );
    await refused(
      server,
      "alice",
      token04("alice", { serverSecret: "0123456789abcdef0123456789abcdef" }),
      ErrorCode.TokenInvalid,
      /not made with this app's server secret/,
    );
    await refused(
      server,
      "alice",
      token04("alice", { serverSecret: "0123456789abcdef0123456789abcdef", mode: "cbc" }),
      ErrorCode.TokenInvalid,
      /ZEGO token/,
    );
    await refused(
      server,
      "alice",
      token04("alice", { ctime: Math.floor(Date.now() / 1000) - 7200 }),
      ErrorCode.TokenExpired,
      /expired/,
    );
    await refused(server, "bob", token04("alice"), ErrorCode.TokenInvalid, /another user/);
    const good = token04("alice");
    const bytes = Buffer.from(good.slice(2), "base64");
    bytes[30] = (bytes[30] as number) ^ 1;
    await refused(
      server,
      "alice",
      `04${bytes.toString("base64")}`,
      ErrorCode.TokenInvalid,
      /ZEGO token/,
    );
    // The clear-text expiry in front cannot be moved on: it must match the encrypted one.
    const moved = Buffer.from(good.slice(2), "base64");
    moved.writeBigInt64BE(moved.readBigInt64BE(0) + 86_400n, 0);
    await refused(
      server,
      "alice",
      `04${moved.toString("base64")}`,
      ErrorCode.TokenInvalid,
      /bad expiry/,
    );
    await refused(
      server,
      "alice",
      token04("alice", { effectiveTimeInSeconds: 400 * 86_400 }),
      ErrorCode.TokenInvalid,
      /expires more than/,
    );
  });

  it("refuses ZEGO tokens when no ZEGO app is configured", async () => {
    const server = await world.server();
    await refused(server, "alice", token04("alice"), ErrorCode.TokenInvalid, /not a JWT/);
  });

  it("refuses a ZEGO setting without a 32-character secret", async () => {
    await expect(world.server({ zego: { appID: APP_ID, serverSecret: "short" } })).rejects.toThrow(
      /zego\.serverSecret: must be the 32-character ZEGO server secret/,
    );
  });
});
