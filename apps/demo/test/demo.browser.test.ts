// The demo page in Debian's Chromium, driven by playwright-core against a real server: users in
// separate browser contexts ring each other (accept, decline, cancel, timeout, a group call with
// an added member) and the test reads what each page shows. Screenshots: test-artifacts/demo/.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BeckonServer, createServer, signToken } from "@beckon/server";
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
// Outside CI a machine without Chromium skips, saying why; in CI a missing browser fails.
if (!hasChromium && !inCI) {
  console.warn(
    `[demo.browser.test] skipped: ${chromiumPath} is missing. Install it with ` +
      "scripts/ensure-chromium.sh (Debian's chromium package); CI never skips this test.",
  );
}

const demoDir = fileURLToPath(new URL("..", import.meta.url));
const artifacts = fileURLToPath(new URL("../../../test-artifacts/demo/", import.meta.url));
const secret = "demo-browser-test-secret-0123456789";
const desktop = { width: 1280, height: 800 };
const phone = { width: 390, height: 844 };

describe.skipIf(!hasChromium && !inCI)("the demo page in Chromium", () => {
  let server: BeckonServer;
  let browser: Browser;
  let distDir: string;
  let pageURL: string;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) {
      throw new Error(
        `${chromiumPath} is missing (CI never skips): run scripts/ensure-chromium.sh`,
      );
    }
    distDir = mkdtempSync(join(tmpdir(), "beckon-demo-dist-"));
    mkdirSync(artifacts, { recursive: true });
    // The demo as `npm run build:demo` builds it, into a folder of this run's own.
    await build({
      configFile: join(demoDir, "vite.config.ts"),
      mode: "production",
      logLevel: "warn",
      build: { outDir: distDir, emptyOutDir: true },
    });
    server = await createServer({
      secret,
      port: 0,
      devTokens: true,
      staticDir: distDir,
      logLevel: "silent",
      // The shortest the server allows, so "not yet received" shows quickly.
      notReceivedCheckMs: 3_000,
    });
    // A small history page, so paging shows with the few calls this file makes.
    pageURL = `${server.httpUrl}/?pageSize=3`;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 60_000);

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    expect(pageErrors.splice(0)).toEqual([]);
  });

  afterAll(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
    await browser?.close();
    await server?.close();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  /** A new browser context (its own storage: another person), signed in as `userID`. */
  async function openAs(userID: string, viewport = desktop): Promise<Page> {
    const context = await browser.newContext({ viewport });
    contexts.push(context);
    return signInOn(await context.newPage(), userID);
  }

  /** Signs in on a fresh tab: its own sessionStorage, so a new device of the user. */
  async function signInOn(page: Page, userID: string): Promise<Page> {
    page.on("pageerror", (error) => pageErrors.push(`${userID}: ${error.message}`));
    await page.goto(pageURL);
    await page.locator('[data-testid="token-mode"][data-mode="development"]').waitFor();
    await page.getByTestId("login-user").fill(userID);
    await page.getByTestId("login-submit").click();
    await page.locator('[data-testid="connection-state"][data-state="Connected"]').waitFor();
    expect(await page.getByTestId("current-user").textContent()).toBe(userID);
    return page;
  }

  interface CallOptions {
    media?: "voice" | "video";
    mode?: "general" | "advanced";
    timeout?: number;
  }

  /** Fills the dialer and calls; resolves to the caller's new call card. */
  async function call(page: Page, invitees: string[], options: CallOptions = {}): Promise<Locator> {
    await page.getByTestId("invitees-input").fill(invitees.join(", "));
    await page.getByTestId(`media-${options.media ?? "video"}`).click();
    await page.getByTestId(`mode-${options.mode ?? "general"}`).click();
    await page.getByTestId("timeout-input").fill(String(options.timeout ?? 30));
    const cards = page.getByTestId("call-card");
    const known = new Set(await cards.evaluateAll((all) => all.map((card) => card.dataset.callId)));
    await page.getByTestId("call-button").click();
    await cards.nth(known.size).waitFor();
    const ids = await cards.evaluateAll((all) => all.map((card) => card.dataset.callId));
    const callID = ids.find((id) => !known.has(id));
    expect(callID).toBeTruthy();
    return cardOf(page, callID ?? "");
  }

  function cardOf(page: Page, callID: string): Locator {
    return page.locator(`[data-testid="call-card"][data-call-id="${callID}"]`);
  }

  function member(scope: Locator, userID: string, state: string): Locator {
    return scope.locator(`[data-testid="member"][data-user-id="${userID}"][data-state="${state}"]`);
  }

  /** The incoming-call screen of `callID` on `page`, once it shows. */
  async function incoming(page: Page, callID: string): Promise<Locator> {
    const screen = page.locator(`[data-testid="incoming-call"][data-call-id="${callID}"]`);
    await screen.waitFor();
    return screen;
  }

  async function callIDOf(card: Locator): Promise<string> {
    return (await card.getAttribute("data-call-id")) ?? "";
  }

  /** Fails with the page's own error text, should it show one. */
  async function noErrorNotices(page: Page): Promise<void> {
    const errors = await page
      .locator('[data-testid="notice"][data-kind="error"]')
      .allTextContents();
    expect(errors).toEqual([]);
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(artifacts, `${name}.png`), animations: "disabled" });
  }

  it("rings, and the callee accepts", async () => {
    const alice = await openAs("alice");
    const bob = await openAs("bob", phone);
    await shot(bob, "signed-in-phone");
    // Each sees the other online (the development server's presence list).
    await alice.locator('[data-testid="person"][data-user-id="bob"][data-online="true"]').waitFor();
    await bob.locator('[data-testid="person"][data-user-id="alice"][data-online="true"]').waitFor();
    await shot(alice, "who-is-online");
    const card = await call(alice, ["bob"], { media: "video" });
    const callID = await callIDOf(card);

    const screen = await incoming(bob, callID);
    expect(await screen.getByTestId("incoming-caller").textContent()).toBe("alice");
    expect(await screen.getByTestId("incoming-media").getAttribute("data-media")).toBe("video");
    const left = Number(await screen.getByTestId("incoming-countdown").textContent());
    expect(left).toBeGreaterThan(20);
    expect(left).toBeLessThanOrEqual(30);
    // The SDK acknowledged the invitation by itself: the caller sees bob's device got it.
    await member(card, "bob", "Received").waitFor();
    await member(card, "alice", "Accepted").waitFor();
    expect(await card.getAttribute("data-phase")).toBe("outgoing");
    await shot(bob, "incoming-call-phone");
    await shot(alice, "caller-ringing");

    await screen.getByTestId("incoming-accept").click();
    await cardOf(bob, callID).and(bob.locator('[data-phase="in-call"]')).waitFor();
    await bob.getByTestId("incoming-layer").waitFor({ state: "hidden" });
    await member(card, "bob", "Accepted").waitFor();
    await card.and(alice.locator('[data-phase="in-call"]')).waitFor();
    expect(await card.getByTestId("call-title").textContent()).toBe("In call with bob");
    await shot(alice, "in-call-caller");
    await shot(bob, "in-call-callee-phone");
    await noErrorNotices(alice);
    await noErrorNotices(bob);
  });

  it("rings, and the callee declines", async () => {
    const alice = await openAs("alice");
    const bob = await openAs("bob", phone);
    const card = await call(alice, ["bob"], { media: "voice" });
    const callID = await callIDOf(card);
    const screen = await incoming(bob, callID);
    expect(await screen.getByTestId("incoming-media").getAttribute("data-media")).toBe("voice");

    await screen.getByTestId("incoming-decline").click();
    await member(card, "bob", "Rejected").waitFor();
    await card.and(alice.locator('[data-phase="over"]')).waitFor();
    expect(await card.getByTestId("call-outcome").textContent()).toBe("bob rejected the call");
    const bobCard = cardOf(bob, callID);
    await bobCard.and(bob.locator('[data-phase="over"]')).waitFor();
    expect(await bobCard.getByTestId("call-outcome").textContent()).toBe(
      "You rejected alice's call",
    );
    await shot(alice, "declined-caller");
    await noErrorNotices(alice);
    await noErrorNotices(bob);
  });

  it("the caller cancels while it rings", async () => {
    const alice = await openAs("alice");
    const bob = await openAs("bob", phone);
    const card = await call(alice, ["bob"]);
    const callID = await callIDOf(card);
    const screen = await incoming(bob, callID);
    await member(card, "bob", "Received").waitFor();

    await card.getByTestId("call-cancel").click();
    await member(card, "bob", "Cancelled").waitFor();
    expect(await card.getByTestId("call-outcome").textContent()).toBe("You cancelled the call");
    await screen.and(bob.locator('[data-phase="over"]')).waitFor();
    expect(await screen.getAttribute("data-state")).toBe("Cancelled");
    expect(await screen.getByTestId("incoming-outcome").textContent()).toBe(
      "alice cancelled the call",
    );
    await shot(bob, "cancelled-callee-phone");
    await screen.getByTestId("incoming-close").click();
    await bob.getByTestId("incoming-layer").waitFor({ state: "hidden" });
    await noErrorNotices(alice);
    await noErrorNotices(bob);
  });

  it("a caller who closes her tab while it rings sees the call on a new tab, cancels it, calls again", async () => {
    // Users of their own: the history test below counts alice's calls with bob.
    const dora = await openAs("dora");
    const eve = await openAs("eve", phone);
    const card = await call(dora, ["eve"], { timeout: 120 });
    const callID = await callIDOf(card);
    const screen = await incoming(eve, callID);

    const newTab = await signInOn(await dora.context().newPage(), "dora");
    await dora.close();
    const row = newTab.locator(`[data-testid="history-item"][data-call-id="${callID}"]`);
    await row.getByTestId("history-cancel").waitFor();
    expect(await row.getByTestId("history-phase").textContent()).toBe("Calling");
    await shot(newTab, "ringing-from-another-tab");
    await row.getByTestId("history-cancel").click();
    await screen.and(eve.locator('[data-phase="over"]')).waitFor();
    expect(await screen.getAttribute("data-state")).toBe("Cancelled");
    await row.getByTestId("history-cancel").waitFor({ state: "detached" });
    await screen.getByTestId("incoming-close").click();

    // No longer busy: the next call from the new tab rings.
    const again = await call(newTab, ["eve"]);
    await incoming(eve, await callIDOf(again));
    await noErrorNotices(newTab);
  }, 90_000);

  it("times out: both countdowns reach zero and both sides show it", async () => {
    const alice = await openAs("alice");
    const bob = await openAs("bob", phone);
    const card = await call(alice, ["bob"], { timeout: 3 });
    const callID = await callIDOf(card);
    const screen = await incoming(bob, callID);
    const countdown = screen.getByTestId("incoming-countdown");
    expect(Number(await countdown.textContent())).toBeLessThanOrEqual(3);
    // It counts down to the server's deadline: 1 is on screen before the call times out.
    await countdown.filter({ hasText: /^1$/ }).waitFor();

    await screen.and(bob.locator('[data-state="Timeout"]')).waitFor({ timeout: 10_000 });
    expect(await countdown.textContent()).toBe("0");
    expect(await screen.getByTestId("incoming-outcome").textContent()).toContain("timed out");
    await member(card, "bob", "Timeout").waitFor();
    await card.and(alice.locator('[data-phase="over"]')).waitFor();
    expect(await member(card, "bob", "Timeout").getByTestId("member-countdown").textContent()).toBe(
      "0",
    );
    expect(await card.getByTestId("call-outcome").textContent()).toBe(
      "No answer: the call timed out",
    );
    await shot(bob, "timed-out-callee-phone");
    await shot(alice, "timed-out-caller");
    await noErrorNotices(alice);
    await noErrorNotices(bob);
  });

  it("lists the call history newest first, a page at a time", async () => {
    const alice = await openAs("alice");
    const history = alice.getByTestId("history");
    const items = history.getByTestId("history-item");
    await items.nth(2).waitFor();
    expect(await items.count()).toBe(3);
    const bobState = (index: number) =>
      items.nth(index).locator('[data-user-id="bob"]').getAttribute("data-state");
    // The four calls above, newest first: timed out, cancelled, rejected, then accepted.
    expect([await bobState(0), await bobState(1), await bobState(2)]).toEqual([
      "Timeout",
      "Cancelled",
      "Rejected",
    ]);
    expect(await items.first().getByTestId("history-title").textContent()).toBe("To bob");
    await history.getByTestId("history-more").click();
    await items.nth(3).waitFor();
    expect(await bobState(3)).toBe("Accepted");
    await history.getByTestId("history-end").waitFor();
    expect(await items.count()).toBe(4);
    await history.scrollIntoViewIfNeeded();
    await shot(alice, "history");

    // The accepted call's timeline: bob's device was sent the ring, acknowledged it, accepted.
    const accepted = items.nth(3);
    await accepted.getByTestId("history-timeline-toggle").click();
    const bobDevice = accepted.locator('[data-testid="timeline-device"][data-user-id="bob"]');
    await bobDevice.waitFor();
    expect(await bobDevice.count()).toBe(1);
    const clock = /^\d{2}:\d{2}:\d{2}\.\d{3}/;
    expect(await bobDevice.getByTestId("timeline-sent").textContent()).toMatch(
      new RegExp(`^sent${clock.source.slice(1)}`),
    );
    expect(await bobDevice.getByTestId("timeline-delivered").textContent()).toMatch(
      /^delivered\d{2}:\d{2}:\d{2}\.\d{3} \(\+[\d.]+ m?s\)$/,
    );
    expect(await bobDevice.getByTestId("timeline-pushed").textContent()).toBe("pushed—");
    expect(await bobDevice.getByTestId("timeline-answered").textContent()).toMatch(
      /^answeredaccepted \d{2}:\d{2}:\d{2}\.\d{3}/,
    );
    await accepted.getByTestId("call-timeline").scrollIntoViewIfNeeded();
    await shot(alice, "history-timeline");
    await accepted.getByTestId("history-timeline-toggle").click();
    await accepted.getByTestId("call-timeline").waitFor({ state: "detached" });

    const bob = await openAs("bob", phone);
    const bobItems = bob.getByTestId("history").getByTestId("history-item");
    await bobItems.first().waitFor();
    expect(await bobItems.first().getByTestId("history-title").textContent()).toBe("From alice");
    // The invitee sees the same for the call that timed out. The ring went to each of bob's
    // devices the server still counted (the pages of earlier tests, closed but within the resume
    // window); only the page open then acknowledged it, and none answered.
    await bobItems.first().getByTestId("history-timeline-toggle").click();
    const ringing = bobItems.first().locator('[data-testid="timeline-device"][data-user-id="bob"]');
    await ringing.first().waitFor();
    const rung = await ringing.count();
    expect(rung).toBeGreaterThan(1);
    expect(await ringing.getByTestId("timeline-sent").allTextContents()).toEqual(
      Array(rung).fill(expect.stringMatching(/^sent\d/)),
    );
    const delivered = await ringing.getByTestId("timeline-delivered").allTextContents();
    expect(delivered.filter((text) => /^delivered\d/.test(text))).toHaveLength(1);
    expect(delivered.filter((text) => text === "delivered—")).toHaveLength(rung - 1);
    expect(new Set(await ringing.getByTestId("timeline-answered").allTextContents())).toEqual(
      new Set(["answered—"]),
    );
    await shot(bob, "history-timeline-phone");
    await noErrorNotices(alice);
    await noErrorNotices(bob);
  });

  it("shows an invitee whose device is offline as not yet received", async () => {
    // carol signs in once (so she is a known user), then closes her browser.
    const carolPage = await openAs("carol");
    await carolPage.context().close();
    const alice = await openAs("alice");
    const card = await call(alice, ["carol"], { media: "voice" });
    await member(card, "carol", "Inviting").waitFor();
    await member(card, "carol", "NotYetReceived").waitFor();
    expect(
      await member(card, "carol", "NotYetReceived").getByTestId("member-state").textContent(),
    ).toBe("Not yet received");
    await shot(alice, "not-yet-received-caller");
    await card.getByTestId("call-cancel").click();
    await member(card, "carol", "Cancelled").waitFor();
    await noErrorNotices(alice);
  });

  it("says in words why a call could not be placed", async () => {
    const alice = await openAs("alice");
    await alice.getByTestId("invitees-input").fill("nobody-signed-in-as-this");
    await alice.getByTestId("call-button").click();
    const error = alice.locator('[data-testid="notice"][data-kind="error"]');
    await error.waitFor();
    const text = await error.textContent();
    expect(text).toContain("Could not place the call");
    expect(text).toContain("a user must sign in once before they can be called");
    expect(text).toContain("6000281");
    await shot(alice, "error-unknown-user");
  });

  it("in production mode asks for a token instead of minting one", async () => {
    const production = await createServer({
      secret,
      port: 0,
      devTokens: false,
      staticDir: distDir,
      logLevel: "silent",
    });
    try {
      const context = await browser.newContext({ viewport: phone });
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${production.httpUrl}/`);
      const banner = page.locator('[data-testid="token-mode"][data-mode="production"]');
      await banner.waitFor();
      expect(await banner.textContent()).toContain("does not hand out development tokens");
      // The page cannot tell production mode from a development node with its own secret,
      // whose start banner says "development mode": it must not claim either.
      expect(await banner.textContent()).not.toMatch(/production mode/i);
      const token = page.getByTestId("login-token");
      await token.waitFor();
      await page.getByTestId("login-user").fill("dora");

      await token.fill("not-a-token");
      await page.getByTestId("login-submit").click();
      const error = page.locator('[data-testid="notice"][data-kind="error"]');
      await error.waitFor();
      expect(await error.textContent()).toContain("6000103");
      await shot(page, "production-login-phone");

      await token.fill(await signToken({ secret, userID: "dora", ttlSeconds: 600 }));
      await page.getByTestId("login-submit").click();
      await page.locator('[data-testid="connection-state"][data-state="Connected"]').waitFor();
      expect(await page.getByTestId("current-user").textContent()).toBe("dora");
    } finally {
      await Promise.all(contexts.splice(0).map((context) => context.close()));
      await production.close();
    }
  });

  it("runs an advanced group call: add a member, who accepts, quits, and the call ends", async () => {
    const alice = await openAs("alice");
    const bob = await openAs("bob", phone);
    const carol = await openAs("carol");
    const card = await call(alice, ["bob"], { mode: "advanced", media: "video" });
    const callID = await callIDOf(card);
    await (await incoming(bob, callID)).getByTestId("incoming-accept").click();
    const bobCard = cardOf(bob, callID);
    await bobCard.and(bob.locator('[data-phase="in-call"]')).waitFor();
    await member(card, "bob", "Accepted").waitFor();

    // bob, now in the call, adds carol.
    await bobCard.getByTestId("add-people-input").fill("carol");
    await bobCard.getByTestId("add-people-button").click();
    const carolScreen = carol.locator(`[data-testid="incoming-call"][data-call-id="${callID}"]`);
    const bobError = bob.locator('[data-testid="notice"][data-kind="error"]');
    // Whichever comes first: carol rings, or bob's page says why adding her failed.
    const outcomes = [
      carolScreen.waitFor().then(() => "added"),
      bobError
        .first()
        .waitFor()
        .then(() => "failed"),
    ];
    for (const outcome of outcomes) outcome.catch(() => {});
    if ((await Promise.race(outcomes)) === "failed") {
      throw new Error(`adding carol failed on bob's page: ${await bobError.first().textContent()}`);
    }
    expect(await carolScreen.getByTestId("incoming-caller").textContent()).toBe("alice");
    await member(card, "carol", "Received").waitFor();
    await shot(carol, "group-incoming-added-member");

    await carolScreen.getByTestId("incoming-accept").click();
    const carolCard = cardOf(carol, callID);
    await carolCard.and(carol.locator('[data-phase="in-call"]')).waitFor();
    for (const [page, scope] of [
      [alice, card],
      [bob, bobCard],
      [carol, carolCard],
    ] as const) {
      for (const user of ["alice", "bob", "carol"]) await member(scope, user, "Accepted").waitFor();
      await noErrorNotices(page);
    }
    await shot(alice, "group-call");
    await shot(bob, "group-call-phone");

    await carolCard.getByTestId("call-quit").click();
    await member(card, "carol", "Quit").waitFor();
    await member(bobCard, "carol", "Quit").waitFor();
    expect(await carolCard.getByTestId("call-outcome").textContent()).toBe("You left the call");

    await card.getByTestId("call-end").click();
    await card.and(alice.locator('[data-phase="over"]')).waitFor();
    await bobCard.and(bob.locator('[data-phase="over"]')).waitFor();
    expect(await bobCard.getByTestId("call-outcome").textContent()).toBe("alice ended the call");
    await shot(bob, "group-ended-phone");
    await noErrorNotices(alice);
    await noErrorNotices(bob);
  });
});
