// What a first-time user ran into on the demo page, each pinned in Debian's Chromium against a
// real server: a clean console, notices that go away, labels that agree, cards that clear, a
// local hang-up that says so, readable event names, a ring tone and notification, and a way
// back into an advanced call after a reload.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BeckonServer, createServer } from "@beckon/server";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
} from "playwright-core";
import { build } from "vite";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const chromiumPath = "/usr/bin/chromium";
const hasChromium = existsSync(chromiumPath);
const inCI = Boolean(process.env.CI);
if (!hasChromium && !inCI) {
  console.warn(
    `[demo-polish.browser.test] skipped: ${chromiumPath} is missing; run scripts/ensure-chromium.sh`,
  );
}

const demoDir = fileURLToPath(new URL("..", import.meta.url));

// Stands in for what a headless browser cannot show: a hidden tab (visibilityState) and the
// notification pop-up (recorded instead of drawn). The page's own code runs unchanged.
const browserShims = () => {
  const w = window as unknown as {
    __hidden: boolean;
    __notifications: string[];
    __permissionAsked: number;
    __tones: number;
  };
  w.__hidden = false;
  w.__notifications = [];
  w.__permissionAsked = 0;
  w.__tones = 0;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true,
    get: () => (w.__hidden ? "hidden" : "visible"),
  });
  const Real = window.Notification;
  class Recorded extends Real {
    constructor(title: string, options?: NotificationOptions) {
      super(title, options);
      w.__notifications.push(title);
    }
    static override requestPermission(): Promise<NotificationPermission> {
      w.__permissionAsked++;
      return Real.requestPermission();
    }
  }
  Object.defineProperty(window, "Notification", { configurable: true, value: Recorded });
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (this: OscillatorNode, when?: number) {
    w.__tones++;
    return start.call(this, when);
  };
};

describe.skipIf(!hasChromium && !inCI)("demo page polish", { timeout: 120_000 }, () => {
  let server: BeckonServer;
  let browser: Browser;
  let distDir: string;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${chromiumPath} is missing: run scripts/ensure-chromium.sh`);
    distDir = mkdtempSync(join(tmpdir(), "beckon-demo-polish-"));
    await build({
      configFile: join(demoDir, "vite.config.ts"),
      mode: "production",
      logLevel: "warn",
      build: { outDir: distDir, emptyOutDir: true },
    });
    server = await createServer({
      secret: "demo-polish-test-secret-0123456789",
      devTokens: true,
      staticDir: distDir,
      logLevel: "silent",
    });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
  }, 120_000);

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    expect(problems.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  async function open(query = "", notifications = false): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    if (notifications)
      await context.grantPermissions(["notifications"], { origin: server.httpUrl });
    contexts.push(context);
    await context.addInitScript(browserShims);
    const page = await context.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error: ${message.text()}`);
    });
    await page.goto(`${server.httpUrl}/${query}`);
    await page.locator('[data-testid="token-mode"][data-mode="development"]').waitFor();
    return page;
  }

  async function signIn(page: Page, userID: string): Promise<Page> {
    await page.getByTestId("login-user").fill(userID);
    await page.getByTestId("login-submit").click();
    await page.locator('[data-testid="connection-state"][data-state="Connected"]').waitFor();
    return page;
  }

  const openAs = async (userID: string, query = "", notifications = false) =>
    signIn(await open(query, notifications), userID);

  async function call(page: Page, invitees: string, mode: "general" | "advanced" = "general") {
    await page.getByTestId("invitees-input").fill(invitees);
    await page.getByTestId(`mode-${mode}`).click();
    await page.getByTestId("timeout-input").fill("30");
    const cards = page.getByTestId("call-card");
    const before = await cards.count();
    await page.getByTestId("call-button").click();
    await cards.nth(before).waitFor();
    return cards.nth(before);
  }

  const pill = (scope: Locator, userID: string) =>
    scope.locator(`[data-testid="member"][data-user-id="${userID}"] [data-testid="member-state"]`);

  it("loads and signs in without a console error", async () => {
    const page = await open();
    await signIn(page, "loader");
    await page.getByTestId("history").waitFor();
    // afterEach fails the test on any console or page error collected here.
  });

  it("notices close by themselves, never stack past three, and do not repeat", async () => {
    await openAs("notice-bob");
    const alice = await openAs("notice-alice", "?noticeSeconds=3");
    const notice = (text: string) => alice.locator('[data-testid="notice"]', { hasText: text });
    const dial = async (invitees: string, timeout: string) => {
      await alice.getByTestId("invitees-input").fill(invitees);
      await alice.getByTestId("timeout-input").fill(timeout);
      await alice.getByTestId("call-button").click();
    };
    await dial("", "30");
    await notice("Type at least one user ID").waitFor();
    await dial("", "30");
    expect(await notice("Type at least one user ID").count()).toBe(1);
    await dial("ghost", "30");
    await notice("no invitee is a known user").waitFor();
    await dial("ghost!*", "30");
    await notice("no invitee is a valid user ID").waitFor();
    await dial("notice-bob, ghost2", "30");
    await notice("Not invited").waitFor();
    // Four different messages: the oldest made room.
    expect(await alice.getByTestId("notice").count()).toBe(3);
    expect(await notice("Type at least one user ID").count()).toBe(0);
    await expect.poll(() => alice.getByTestId("notice").count(), { timeout: 30_000 }).toBe(0);
  });

  it("a ringing caller reads Calling, the same in the card and the history; names in the log", async () => {
    const alice = await openAs("label-alice");
    const bob = await openAs("label-bob");
    const card = await call(alice, "label-bob");
    await expect.poll(() => pill(card, "label-alice").textContent()).toBe("Calling");
    const historyChip = alice.locator('[data-testid="history-item"] [data-user-id="label-alice"]');
    await expect.poll(() => historyChip.first().textContent()).toBe("label-alice (you): Calling");
    const screen = bob.getByTestId("incoming-call");
    await screen.getByTestId("incoming-accept").click();
    await expect.poll(() => pill(card, "label-alice").textContent()).toBe("Accepted");
    await expect.poll(() => historyChip.first().textContent()).toBe("label-alice (you): Accepted");

    const received = await bob
      .locator('[data-testid="log-entry"][data-event="callInvitationReceived"] code')
      .first()
      .textContent();
    expect(received).toContain('"mode":"General"');
    expect(received).toMatch(/"state":"(Inviting|Received)"/);
    expect(received).not.toMatch(/"(mode|state)":\d/);
  });

  it("a finished call's card clears itself; Hang up says it is this device only", async () => {
    const alice = await openAs("clear-alice", "?clearSeconds=1");
    const bob = await openAs("clear-bob", "?clearSeconds=1");
    const rejected = await call(alice, "clear-bob");
    await bob.getByTestId("incoming-decline").click();
    await rejected.and(alice.locator('[data-phase="over"]')).waitFor();
    await rejected.waitFor({ state: "detached", timeout: 10_000 });

    const accepted = await call(alice, "clear-bob");
    await bob.getByTestId("incoming-accept").click();
    await accepted.and(alice.locator('[data-phase="in-call"]')).waitFor();
    const hangUp = accepted.getByTestId("call-hangup");
    expect(await hangUp.textContent()).toBe("Hang up (this device only)");
    await hangUp.click();
    await alice
      .locator('[data-testid="notice"][data-kind="info"]', { hasText: "this device only" })
      .waitFor();
    // Bob was not told: his card is still in the call.
    expect(await bob.locator('[data-testid="call-card"][data-phase="in-call"]').count()).toBe(1);
  });

  it("a ringing tab plays a ring tone, and notifies when hidden; asked on the sign-in click", async () => {
    const fresh = await open();
    expect(
      await fresh.evaluate(
        () => (window as unknown as { __permissionAsked: number }).__permissionAsked,
      ),
    ).toBe(0);
    await signIn(fresh, "ring-asker");
    expect(
      await fresh.evaluate(
        () => (window as unknown as { __permissionAsked: number }).__permissionAsked,
      ),
    ).toBe(1);

    const alice = await openAs("ring-alice");
    const bob = await openAs("ring-bob", "", true);
    await bob.evaluate(() => {
      (window as unknown as { __hidden: boolean }).__hidden = true;
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await call(alice, "ring-bob");
    await bob.locator('html[data-ringtone="playing"]').waitFor();
    await expect
      .poll(() => bob.evaluate(() => (window as unknown as { __tones: number }).__tones))
      .toBeGreaterThan(0);
    await expect
      .poll(() =>
        bob.evaluate(() => (window as unknown as { __notifications: string[] }).__notifications),
      )
      .toEqual(["ring-alice is calling"]);
    await bob.getByTestId("incoming-accept").click();
    await bob.locator('html[data-ringtone="off"]').waitFor();
  });

  it("an ongoing advanced call shows Rejoin and Leave in the history after a reload", async () => {
    const alice = await openAs("rejoin-alice");
    const bob = await openAs("rejoin-bob");
    const card = await call(alice, "rejoin-bob", "advanced");
    const callID = (await card.getAttribute("data-call-id")) ?? "";
    await bob.getByTestId("incoming-accept").click();
    await card.and(alice.locator('[data-phase="in-call"]')).waitFor();

    const entry = alice.locator(`[data-testid="history-item"][data-call-id="${callID}"]`);
    // The card has the controls while this tab shows the call.
    await entry.waitFor();
    expect(await entry.getByTestId("history-rejoin").count()).toBe(0);

    await alice.reload();
    await alice.locator('[data-testid="connection-state"][data-state="Connected"]').waitFor();
    await entry.getByTestId("history-rejoin").waitFor();
    await entry.getByTestId("history-leave").waitFor();
    await entry.getByTestId("history-rejoin").click();
    await alice
      .locator(`[data-testid="call-card"][data-call-id="${callID}"][data-phase="in-call"]`)
      .waitFor();

    await alice.reload();
    await alice.locator('[data-testid="connection-state"][data-state="Connected"]').waitFor();
    await entry.getByTestId("history-leave").click();
    const bobCard = bob.locator(`[data-testid="call-card"][data-call-id="${callID}"]`);
    await bobCard
      .locator('[data-testid="member"][data-user-id="rejoin-alice"][data-state="Quit"]')
      .waitFor();
  });
});
