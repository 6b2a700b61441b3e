// The operator console in Debian's Chromium against a real node: a key without admin scope is
// refused; the Now page updates live as a call rings; a real call between devices shows on its
// page as a sequence diagram, step by step in order, with a device that never acknowledged
// flagged; actions need a session that allows them; the user and integrations pages; no serious
// axe-core violation on any page; screenshots at desktop and phone width.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CallUserState } from "@beckon/protocol";
import { type BeckonServer, createServer } from "@beckon/server";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SqliteApiKeyStore } from "../../../packages/server/src/api/api-key-store.js";
import { openSqlite } from "../../../packages/server/src/sqlite/module-schema.js";
import { HttpReceiver } from "../../../packages/server/test/support/http-receiver.js";
import { desktop, Harness, hasChromium, inCI, noteSkip, SECRET } from "./console-harness.js";

noteSkip("console.browser.test");

// Browsers on a machine shared with other work: a page step may take seconds.
describe.skipIf(!hasChromium && !inCI)("the console on one node", { timeout: 120_000 }, () => {
  const harness = new Harness();
  let server: BeckonServer;
  let dataDir: string;
  let adminKey: string;
  let writeKey: string;
  /** The HTTP push provider's gateway (what would bridge to FCM/APNs): answers 201. */
  let pushGateway: HttpReceiver;

  beforeAll(async () => {
    await harness.start();
    dataDir = mkdtempSync(join(tmpdir(), "beckon-console-"));
    const store = join(dataDir, "beckon.db");
    const db = openSqlite(store);
    const keys = new SqliteApiKeyStore(db);
    adminKey = (await keys.create("ops", ["admin"], Date.now())).key;
    writeKey = (await keys.create("backend", ["read", "write"], Date.now())).key;
    db.close();
    pushGateway = await new HttpReceiver().start();
    server = await createServer({
      secret: SECRET,
      port: 0,
      store,
      consoleDir: harness.distDir,
      logLevel: "silent",
      // The shortest the server allows, so "not yet received" shows soon.
      notReceivedCheckMs: 3_000,
      push: {
        http: {
          url: pushGateway.url,
          secret: `whsec_${Buffer.from("p".repeat(24)).toString("base64")}`,
        },
      },
    });
  }, 60_000);

  afterEach(() => harness.afterEach());

  afterAll(async () => {
    await harness.stop();
    await server?.close();
    await pushGateway?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const steps = (page: Page) => page.getByTestId("step-label").allTextContents();
  /** A mark a reload would lose. */
  const markPage = (page: Page) =>
    page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42;
    });
  const pageMark = (page: Page) =>
    page.evaluate(() => (window as unknown as { marker?: number }).marker);

  it("refuses a key without the admin scope, and keeps no key in the browser", async () => {
    const page = await harness.open(server.httpUrl);
    expect(await harness.seriousViolations(page)).toEqual([]);
    await harness.screenshot(page, "sign-in-desktop");
    await harness.phoneScreenshot(page, "sign-in-phone");
    await page.setViewportSize(desktop);
    await page.getByTestId("api-key").fill(writeKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect
      .poll(() => page.getByTestId("sign-in-message").textContent())
      .toMatch(/admin scope/);
    expect(await page.getByTestId("live-state").count()).toBe(0);
    await harness.signIn(page, adminKey);
    const stored = await page.evaluate(() => ({
      local: JSON.stringify(localStorage),
      session: JSON.stringify(sessionStorage),
      cookie: document.cookie,
      url: location.href,
    }));
    for (const place of Object.values(stored)) expect(place).not.toContain(adminKey.slice(3));
    // The session cookie is HttpOnly: the page cannot read it.
    expect(stored.cookie).toBe("");
    await page.getByTestId("sign-out").click();
    await page.getByTestId("api-key").waitFor();
    const after = await page.request.get(`${server.httpUrl}/api/stats`);
    expect(after.status()).toBe(401);
  });

  it("updates the Now page live as a call rings and is answered, without a reload", async () => {
    const page = await harness.open(server.httpUrl);
    await harness.signIn(page, adminKey);
    await expect.poll(() => page.getByTestId("stat-ringing").textContent()).toBe("0");
    // A reload would lose this.
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42;
    });
    const alice = await harness.device(server.url, "alice", "alice-laptop");
    const bob = await harness.device(server.url, "bob", "bob-phone");
    await expect.poll(() => page.getByTestId("stat-devices").textContent()).toBe("2");
    const received = new Promise<void>((resolve) =>
      bob.on("callInvitationReceived", () => resolve()),
    );
    const { callID } = await alice.callInvite(["bob"], { timeout: 60 });
    await expect.poll(() => page.getByTestId("stat-ringing").textContent()).toBe("1");
    await page.locator(`[data-testid="live-call"][data-call-id="${callID}"]`).waitFor();
    await received;
    await bob.callAccept(callID, {});
    await expect.poll(() => page.getByTestId("stat-ringing").textContent()).toBe("0");
    await expect.poll(() => page.getByTestId("stat-p50").textContent()).not.toBe("—");
    expect(Number(await page.getByTestId("stat-rings").textContent())).toBeGreaterThanOrEqual(1);
    expect(await page.evaluate(() => (window as unknown as { marker: number }).marker)).toBe(42);
    expect(await harness.seriousViolations(page)).toEqual([]);
    await harness.screenshot(page, "now-desktop");
    await harness.phoneScreenshot(page, "now-phone");
  });

  it("shows a real call's steps in order, lane by device, with silent devices flagged", async () => {
    const alice = await harness.device(server.url, "alice", "alice-laptop");
    const phoneDevice = await harness.device(server.url, "bob", "phone");
    const laptop = await harness.device(server.url, "bob", "laptop");
    // bob's tablet and carol's only phone never acknowledge.
    await harness.silentDevice(server.url, "bob", "tablet");
    await harness.silentDevice(server.url, "carol", "carol-phone");
    const onPhone = new Promise<void>((resolve) =>
      phoneDevice.on("callInvitationReceived", () => resolve()),
    );
    const onLaptop = new Promise<void>((resolve) =>
      laptop.on("callInvitationReceived", () => resolve()),
    );
    const { callID } = await alice.callInvite(["bob", "carol"], {
      timeout: 60,
      enableNotReceivedCheck: true,
    });
    await Promise.all([onPhone, onLaptop]);

    const page = await harness.open(server.httpUrl);
    await harness.signIn(page, adminKey);
    await page.goto(`${server.httpUrl}/console/#/calls/${callID}`);
    await page.getByTestId("sequence").waitFor();
    await markPage(page);
    // carol's phone never acknowledged: the receipt check fires and the page, following the live
    // feed, shows it without a reload.
    await expect
      .poll(async () => (await steps(page)).join("\n"))
      .toContain("Not yet received by carol");
    await phoneDevice.callAccept(callID, {});
    await expect
      .poll(async () => (await steps(page)).join("\n"))
      .toContain("Accepted by bob on phone");

    // bob's other devices are told as the server told them: a recorded delivery per device.
    await expect
      .poll(async () => (await steps(page)).join("\n"))
      .toMatch(/Told [^\n]*bob · laptop[^\n]*: bob accepted/);
    const labels = await steps(page);
    const at = (label: string | RegExp) => {
      const index = labels.findIndex((text) =>
        typeof label === "string" ? text.startsWith(label) : label.test(text),
      );
      expect(index, `${label} in ${labels.join(" | ")}`).toBeGreaterThanOrEqual(0);
      return index;
    };
    const toldAccepted = /^Told .*: bob accepted/;
    const order = [
      at("Call created by alice"),
      at("bob invited by alice"),
      at("Sent to bob · phone"),
      at("Received on bob · phone"),
      at("Not yet received by carol (carol-phone)"),
      at("Accepted by bob on phone"),
      at(toldAccepted),
    ];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // Every step came over the live stream: the page was never loaded again.
    expect(await pageMark(page)).toBe(42);
    const told = labels[at(toldAccepted)] ?? "";
    expect(told).toContain("bob · laptop");
    expect(told).toContain("bob · tablet");
    const toldRow = page.locator('[data-testid="step"][data-kind="device.told"]', {
      hasText: "bob accepted",
    });
    expect((await toldRow.first().getAttribute("data-targets"))?.split(" ")).toEqual(
      expect.arrayContaining(["bob/laptop", "bob/tablet"]),
    );
    expect(at("Sent to bob · laptop")).toBeLessThan(at("Received on bob · laptop"));
    expect(at("Sent to bob · tablet")).toBeLessThan(at("Accepted by bob on phone"));
    expect(at("Sent to carol · carol-phone")).toBeLessThan(at("Not yet received by carol"));
    expect(labels.some((text) => text.startsWith("Received on bob · tablet"))).toBe(false);
    // Lanes: one per device, the silent one flagged.
    const lanes = await page.getByTestId("lane").allTextContents();
    const [callerLane, ...others] = lanes.map((text) => text.replace("never acknowledged", ""));
    expect(callerLane).toBe("alice · alice-laptop");
    expect(others.sort()).toEqual([
      "bob · laptop",
      "bob · phone",
      "bob · tablet",
      "carol · carol-phone",
    ]);
    await page.locator('[data-lane="bob/tablet"] [data-testid="never-received"]').waitFor();
    await page.locator('[data-lane="carol/carol-phone"] [data-testid="never-received"]').waitFor();
    expect(await page.getByTestId("never-received").count()).toBe(2);
    // Times: each step says how long after the call's creation and after the step before.
    expect(await page.locator("tbody .seq-time .sub").first().textContent()).toMatch(
      /^\+\d+ ms · Δ \d+ ms$/,
    );
    // carol still rings: the general call goes on.
    expect(await page.getByTestId("call-state").textContent()).toBe("Started");
    const json = JSON.parse((await page.getByTestId("call-json").textContent()) ?? "{}") as {
      callID: string;
      members: Array<{ userID: string; state: number }>;
    };
    expect(json.callID).toBe(callID);
    expect(json.members).toContainEqual(
      expect.objectContaining({ userID: "bob", state: CallUserState.Accepted }),
    );

    expect(await harness.seriousViolations(page)).toEqual([]);
    await harness.screenshot(page, "call-desktop");
    await harness.phoneScreenshot(page, "call-phone");

    // Find by user ID: bob's page lists the three devices and this call.
    await page.getByTestId("find-input").fill("bob");
    await page.getByTestId("find-input").press("Enter");
    await page.getByTestId("user-id").waitFor();
    await expect.poll(() => page.getByTestId("device").count()).toBe(3);
    // This call is in bob's recent calls.
    expect(await page.locator('[data-testid="device"][data-device="phone"]').textContent()).toMatch(
      /Online.*on node/,
    );
    await page.locator(`a[href="#/calls/${callID}"]`).first().waitFor();
    await harness.phoneScreenshot(page, "user-phone");
    await page.setViewportSize({ width: 1280, height: 860 });
    await harness.screenshot(page, "user-desktop");
    // Find by call ID opens the call.
    await page.getByTestId("find-input").fill(callID);
    await page.getByTestId("find-input").press("Enter");
    await expect.poll(() => page.getByTestId("call-id").textContent()).toBe(callID);
  });

  it("lets a session with actions cancel a stuck call; a read-only one cannot", async () => {
    const erin = await harness.device(server.url, "erin", "erin-laptop");
    await harness.silentDevice(server.url, "frank", "frank-phone");
    const { callID } = await erin.callInvite(["frank"], { timeout: 600 });

    const readOnly = await harness.open(server.httpUrl);
    await harness.signIn(readOnly, adminKey);
    await readOnly.goto(`${server.httpUrl}/console/#/calls/${callID}`);
    await readOnly.getByTestId("cancel-call").waitFor();
    expect(await readOnly.getByTestId("cancel-call").isDisabled()).toBe(true);

    const acting = await harness.open(server.httpUrl);
    await harness.signIn(acting, adminKey, true);
    expect(await acting.getByTestId("session-mode").textContent()).toBe("Actions on");
    await acting.goto(`${server.httpUrl}/console/#/calls/${callID}`);
    await acting.getByTestId("cancel-call").click();
    await expect.poll(() => acting.getByTestId("call-state").textContent()).toBe("Ended");
    await expect
      .poll(async () => (await steps(acting)).join("\n"))
      .toContain("frank's invitation cancelled by erin");
  });

  it("shows each webhook endpoint's state and queue with dead letters to replay", async () => {
    const added = await fetch(`${server.httpUrl}/api/webhooks/endpoints`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      // Nothing listens on the discard port: every attempt fails.
      body: JSON.stringify({ url: "http://127.0.0.1:9/beckon", description: "billing backend" }),
    });
    expect(added.status).toBe(201);
    const gina = await harness.device(server.url, "gina", "gina-laptop");
    await harness.device(server.url, "dave", "dave-phone");
    await gina.callInvite(["dave"], { timeout: 30 });

    const page = await harness.open(server.httpUrl);
    await harness.signIn(page, adminKey, true);
    await page.getByRole("link", { name: "Integrations" }).click();
    const endpoint = page.getByTestId("endpoint");
    await endpoint.waitFor();
    await expect
      .poll(async () => {
        await page.getByRole("button", { name: "Refresh" }).click();
        return endpoint.getByTestId("last-error").textContent();
      })
      .not.toBe("none");
    expect(Number(await endpoint.getByTestId("queue-depth").textContent())).toBeGreaterThan(0);
    expect(await endpoint.getByTestId("endpoint-state").textContent()).toMatch(/Live|Paused until/);
    expect(await harness.seriousViolations(page)).toEqual([]);
    await harness.screenshot(page, "integrations-desktop");
    await harness.phoneScreenshot(page, "integrations-phone");
  });

  it("shows a push to a device that is away as it is answered, live, and counts sends and failures", async () => {
    const admin = { authorization: `Bearer ${adminKey}`, "content-type": "application/json" };
    for (const user of ["hank", "jill"]) {
      await fetch(`${server.httpUrl}/api/users`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ userIDs: [user] }),
      });
      const registered = await fetch(`${server.httpUrl}/api/users/${user}/push-registrations`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({
          deviceID: `${user}-phone`,
          target: { provider: "http", token: `${user}-token` },
        }),
      });
      expect(registered.status).toBe(201);
    }
    // The gateway holds its answer to hank's push until the page shows the push queued.
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    pushGateway.responder = async (request) => {
      if (request.text.includes("jill-token")) return { status: 400, body: "bad token" };
      if (request.text.includes("hank-token")) await answered;
      return { status: 201 };
    };
    const ivan = await harness.device(server.url, "ivan", "ivan-laptop");
    const { callID } = await ivan.callInvite(["hank"], {
      timeout: 60,
      pushConfig: { title: "Ivan", content: "is calling", payload: "{}" },
    });
    const page = await harness.open(server.httpUrl);
    await harness.signIn(page, adminKey);
    await page.goto(`${server.httpUrl}/console/#/calls/${callID}`);
    await page.getByTestId("sequence").waitFor();
    await markPage(page);
    await expect
      .poll(async () => (await steps(page)).join("\n"))
      .toContain("Pushed invite via http — queued");
    answer();
    // The provider's answer shows without a reload.
    await expect
      .poll(async () => (await steps(page)).join("\n"))
      .toContain("Pushed invite via http — sent (201)");
    expect(await pageMark(page)).toBe(42);
    expect(await page.getByTestId("lane").allTextContents()).toContain("hank · hank-phone");

    const kate = await harness.device(server.url, "kate", "kate-laptop");
    const { callID: failing } = await kate.callInvite(["jill"], {
      timeout: 60,
      pushConfig: { title: "Ivan", content: "is calling", payload: "{}" },
    });
    await page.goto(`${server.httpUrl}/console/#/calls/${failing}`);
    await expect
      .poll(async () => (await steps(page)).join("\n"))
      .toContain("Pushed invite via http — failed (400): bad token");

    await page.getByTestId("find-input").fill("hank");
    await page.getByTestId("find-input").press("Enter");
    await expect
      .poll(() => page.locator('[data-testid="device"][data-device="hank-phone"]').textContent())
      .toMatch(/Not logged in.*reached by push only/);
    await page.getByRole("link", { name: "Integrations" }).click();
    const http = page.locator('[data-testid="push-provider"][data-provider="http"]');
    await expect.poll(() => http.getByTestId("push-sent").textContent()).toBe("1");
    await expect.poll(() => http.getByTestId("push-failed").textContent()).toBe("1");
  });
});

describe.skipIf(!hasChromium && !inCI)("the console's dead letters", { timeout: 120_000 }, () => {
  const harness = new Harness();
  let server: BeckonServer | undefined;
  let app: HttpReceiver | undefined;
  let dataDir = "";

  afterAll(async () => {
    await harness.stop();
    await server?.close();
    await app?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("replays a dead letter from the Integrations page, and the endpoint then gets it", async () => {
    await harness.start();
    dataDir = mkdtempSync(join(tmpdir(), "beckon-console-dead-"));
    const store = join(dataDir, "beckon.db");
    const db = openSqlite(store);
    const adminKey = (await new SqliteApiKeyStore(db).create("ops", ["admin"], Date.now())).key;
    db.close();
    app = await new HttpReceiver().start();
    let healthy = false;
    app.responder = () => (healthy ? { status: 200 } : { status: 500, body: "down for upgrade" });
    // Two quick attempts, so the delivery is a dead letter while the test watches.
    server = await createServer({
      secret: SECRET,
      port: 0,
      store,
      consoleDir: harness.distDir,
      logLevel: "silent",
      webhookRetryDelaysMs: [5],
    });
    const admin = { authorization: `Bearer ${adminKey}`, "content-type": "application/json" };
    const added = await fetch(`${server.httpUrl}/api/webhooks/endpoints`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ url: app.url, events: ["call_create"] }),
    });
    expect(added.status).toBe(201);
    await fetch(`${server.httpUrl}/api/users`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ userIDs: ["kim", "lee"] }),
    });
    const created = await fetch(`${server.httpUrl}/api/calls`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ caller: "kim", invitees: ["lee"] }),
    });
    expect(created.status).toBe(201);
    await app.waitFor(2);

    const page = await harness.open(server.httpUrl);
    await harness.signIn(page, adminKey, true);
    await page.getByRole("link", { name: "Integrations" }).click();
    const replay = page.getByRole("button", { name: /^Replay delivery / });
    await expect
      .poll(async () => {
        await page.getByRole("button", { name: "Refresh" }).click();
        return replay.count();
      })
      .toBe(1);
    const label = (await replay.getAttribute("aria-label")) ?? "";
    const deliveryID = label.replace("Replay delivery ", "");
    expect(deliveryID).not.toBe("");

    healthy = true;
    await replay.click();
    await expect
      .poll(() => page.getByTestId("replay-message").textContent())
      .toBe(`Delivery ${deliveryID} queued again.`);
    const [third] = (await app.waitFor(3)).slice(2);
    expect(third?.headers["webhook-id"]).toBe(deliveryID);
    // Delivered now: the page no longer offers it.
    await expect
      .poll(async () => {
        await page.getByRole("button", { name: "Refresh" }).click();
        return replay.count();
      })
      .toBe(0);
    await harness.afterEach();
  });
});
