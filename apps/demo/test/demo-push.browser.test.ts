// Ringing a closed tab, in Debian's Chromium against a real server: the server sends a real
// encrypted Web Push (RFC 8291) to a local push service the test plays, the test decrypts it and
// hands it to the demo's service worker through the DevTools protocol (the browser's own push
// service, Google's, is not reachable here), and the worker shows the call as a notification
// whose Accept answers the call in a tab. Headless Chromium cannot click a system notification,
// so the click is dispatched in the worker; such a click may not open windows, so the page the
// worker would open is opened by the test.
import { spawnSync } from "node:child_process";
import { createECDH, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BeckonServer, createServer } from "@beckon/server";
import { decrypt } from "http_ece";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
  type Worker,
} from "playwright-core";
import { build } from "vite";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HttpReceiver } from "../../../packages/server/test/support/http-receiver.js";

const chromiumPath = "/usr/bin/chromium";
const hasChromium = existsSync(chromiumPath);
const inCI = Boolean(process.env.CI);
if (!hasChromium && !inCI) {
  console.warn(
    `[demo-push.browser.test] skipped: ${chromiumPath} is missing. Install it with ` +
      "scripts/ensure-chromium.sh (Debian's chromium package); CI never skips this test.",
  );
}

const demoDir = fileURLToPath(new URL("..", import.meta.url));
const cli = fileURLToPath(new URL("../../../packages/server/dist/cli.js", import.meta.url));
const secret = "demo-push-browser-test-secret-0123456789";

/** What a notification of the demo's service worker looks like from the outside. */
interface Shown {
  title: string;
  body: string;
  tag: string;
  actions: string[];
}

/** The Web Push payload (docs/push.md). */
interface PushBody {
  kind: string;
  callID: string;
  caller: string;
  deadline: number;
}

describe.skipIf(!hasChromium && !inCI)("the demo rings a closed tab through Web Push", () => {
  let server: BeckonServer;
  let browser: Browser;
  let dataDir: string;
  let distDir: string;
  let apiKey: string;
  let pushService: HttpReceiver;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) {
      throw new Error(
        `${chromiumPath} is missing (CI never skips): run scripts/ensure-chromium.sh`,
      );
    }
    if (!existsSync(cli)) {
      throw new Error("packages/server/dist is missing: run `npm run build` first");
    }
    dataDir = mkdtempSync(join(tmpdir(), "beckon-demo-push-"));
    distDir = join(dataDir, "dist");
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
      store: join(dataDir, "beckon.db"),
      push: { webPush: { subject: "mailto:ops@example.com" }, vapidDir: dataDir },
    });
    // An API key the way an operator makes one, for the routes a test acts on as the backend.
    const made = spawnSync(
      process.execPath,
      [cli, "apikey", "create", "push-test", "--scopes", "read,write", "--data", dataDir],
      { encoding: "utf8" },
    );
    expect(made.status, made.stderr).toBe(0);
    apiKey = made.stdout.split("\n")[0] ?? "";
    pushService = await new HttpReceiver().start();
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
    await pushService?.stop();
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function api(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${server.httpUrl}/api${path}`, {
      method,
      headers: {
        authorization: `Bearer ${apiKey}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    expect(response.ok, `${method} ${path}: HTTP ${response.status}`).toBe(true);
    return response.status === 204 ? null : response.json();
  }

  /** A person's browser (its own storage and service workers), notifications allowed or not. */
  async function browserOf(name: string, notifications = true): Promise<BrowserContext> {
    const context = await browser.newContext({
      permissions: notifications ? ["notifications"] : [],
    });
    contexts.push(context);
    context.on("page", (page) =>
      page.on("pageerror", (error) => pageErrors.push(`${name}: ${error.message}`)),
    );
    return context;
  }

  async function openDemo(context: BrowserContext, query = ""): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${server.httpUrl}/${query}`);
    await page.locator('[data-testid="token-mode"][data-mode="development"]').waitFor();
    return page;
  }

  async function signIn(page: Page, userID: string): Promise<void> {
    await page.getByTestId("login-user").fill(userID);
    await page.getByTestId("login-submit").click();
    await page.locator('[data-testid="connection-state"][data-state="Connected"]').waitFor();
  }

  async function signedIn(context: BrowserContext, userID: string): Promise<Page> {
    const page = await openDemo(context);
    await signIn(page, userID);
    return page;
  }

  /** Calls from the dialer; resolves to the caller's card of the new call. */
  async function call(page: Page, invitee: string, timeout = 30): Promise<Locator> {
    await page.getByTestId("invitees-input").fill(invitee);
    await page.getByTestId("media-video").click();
    await page.getByTestId("timeout-input").fill(String(timeout));
    const cards = page.getByTestId("call-card");
    const ids = () => cards.evaluateAll((all) => all.map((card) => card.dataset.callId));
    const known = new Set(await ids());
    await page.getByTestId("call-button").click();
    await expect.poll(async () => (await ids()).some((id) => !known.has(id))).toBe(true);
    const callID = (await ids()).find((id) => !known.has(id));
    return page.locator(`[data-testid="call-card"][data-call-id="${callID}"]`);
  }

  function member(card: Locator, userID: string, state: string): Locator {
    return card.locator(`[data-testid="member"][data-user-id="${userID}"][data-state="${state}"]`);
  }

  /** Resolves once no device of `userID` has a socket (the server then pushes to it). */
  async function offline(userID: string): Promise<void> {
    await expect
      .poll(async () => {
        const user = (await api("GET", `/users/${userID}`)) as {
          devices: Array<{ online: boolean }>;
        };
        return user.devices.some((device) => device.online);
      })
      .toBe(false);
  }

  function pushPanel(page: Page, state: string): Locator {
    return page.locator(`[data-testid="push-panel"][data-state="${state}"]`);
  }

  /**
   * Stands in for the browser's push service at its one call the page makes: `subscribe`
   * answers with a subscription as Chromium would give it (Google's push service is out of reach).
   */
  async function fakeBrowserPushService(page: Page, endpoint: string): Promise<void> {
    await page.evaluate((endpoint) => {
      const keys = {
        p256dh: "BOr6iN1JdTa6m5vhH8oZkP6DdEUlDVHJsKcp8gFx_TG6",
        auth: "c2VjcmV0c2VjcmV0",
      };
      PushManager.prototype.getSubscription = async () => null;
      PushManager.prototype.subscribe = async (options) =>
        ({
          endpoint,
          expirationTime: null,
          options,
          toJSON: () => ({ endpoint, expirationTime: null, keys }),
          unsubscribe: async () => true,
        }) as unknown as PushSubscription;
    }, endpoint);
  }

  /** A subscription the test holds the keys of, at the local push service. */
  function testSubscription(path: string) {
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    const auth = randomBytes(16);
    return {
      endpoint: `${pushService.url}${path}`,
      keys: { p256dh: ecdh.getPublicKey().toString("base64url"), auth: auth.toString("base64url") },
      /** The n-th push the push service got for this subscription, decrypted. */
      async push(n: number): Promise<{ text: string; body: PushBody }> {
        const requests = await pushService.waitFor(n, (request) => request.path === path);
        const request = requests[n - 1];
        if (!request) throw new Error(`push ${n} did not arrive`);
        const text = decrypt(request.body, {
          version: "aes128gcm",
          privateKey: ecdh,
          authSecret: auth,
        }).toString("utf8");
        return { text, body: JSON.parse(text) as PushBody };
      },
      /**
       * The first push of `kind` for `callID`: other pushes (a quit or end of an earlier call)
       * may come in between, in either order.
       */
      async pushOf(kind: string, callID: string): Promise<{ text: string; body: PushBody }> {
        for (let n = 1; ; n++) {
          const push = await this.push(n);
          if (push.body.kind === kind && push.body.callID === callID) return push;
        }
      },
    };
  }

  /** The demo's service worker of `context`, and a way to hand it pushes (DevTools protocol). */
  async function serviceWorkerOf(context: BrowserContext, page: Page) {
    const origin = new URL(server.httpUrl).origin;
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    // A page the worker does not count as a tab of the demo, to talk DevTools through.
    const devtoolsTab = await context.newPage();
    const cdp = await context.newCDPSession(devtoolsTab);
    const registrationID = new Promise<string>((resolve) => {
      cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
        const found = registrations.find((r) => r.scopeURL === `${origin}/` && !r.isDeleted);
        if (found) resolve(found.registrationId);
      });
    });
    await cdp.send("ServiceWorker.enable");
    const registrationId = await registrationID;
    /** The running worker; one the browser stopped while idle is started again. */
    const worker = async (): Promise<Worker> => {
      const running = () => context.serviceWorkers().find((w) => w.url() === `${origin}/sw.js`);
      const found = running();
      if (found) return found;
      const started = context.waitForEvent("serviceworker");
      await cdp.send("ServiceWorker.startWorker", { scopeURL: `${origin}/` });
      return running() ?? (await started);
    };
    return {
      deliver: (data: string) =>
        cdp.send("ServiceWorker.deliverPushMessage", { origin, registrationId, data }),
      /**
       * Hands the worker a push until it shows a notification tagged `tag`. The DevTools
       * delivery stands in for a push service, which retries a push the browser did not take;
       * here one delivered while the worker was starting is sometimes dropped.
       */
      deliverUntilShown: async (data: string, tag: string) => {
        for (let tries = 0; tries < 10; tries++) {
          await cdp.send("ServiceWorker.deliverPushMessage", { origin, registrationId, data });
          const deadline = Date.now() + 1_000;
          while (Date.now() < deadline) {
            const list = await (await worker()).evaluate(async (wanted) => {
              const scope = self as unknown as { registration: ServiceWorkerRegistration };
              return (await scope.registration.getNotifications({ tag: wanted })).length;
            }, tag);
            if (list > 0) return;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        throw new Error(`the worker never showed a notification for ${tag}`);
      },
      /** Demo tabs the worker counts as visible (a closed tab leaves its list a moment later). */
      visibleTabs: async () =>
        (await worker()).evaluate(async () => {
          const scope = self as unknown as {
            clients: {
              matchAll(options: object): Promise<Array<{ visibilityState: string }>>;
            };
          };
          const tabs = await scope.clients.matchAll({ type: "window", includeUncontrolled: true });
          return tabs.filter((tab) => tab.visibilityState === "visible").length;
        }),
      /** The notifications the worker shows now. */
      shown: async () =>
        (await worker()).evaluate(async () => {
          const scope = self as unknown as { registration: ServiceWorkerRegistration };
          const list = await scope.registration.getNotifications();
          return list.map((n) => ({
            title: n.title,
            body: n.body,
            tag: n.tag,
            actions: (n as Notification & { actions: Array<{ action: string }> }).actions.map(
              (a) => a.action,
            ),
          }));
        }) as Promise<Shown[]>,
      /** What a click on the notification's `action` button does. */
      click: async (tag: string, action: string) =>
        (await worker()).evaluate(
          async ({ tag, action }) => {
            const scope = self as unknown as {
              registration: ServiceWorkerRegistration;
              NotificationEvent: new (
                type: string,
                init: { notification: Notification; action: string },
              ) => Event;
            };
            const [notification] = await scope.registration.getNotifications({ tag });
            if (!notification) throw new Error(`no notification ${tag}`);
            self.dispatchEvent(
              new scope.NotificationEvent("notificationclick", { notification, action }),
            );
          },
          { tag, action },
        ),
      /** The page the worker opens for a click when no tab of the demo is open. */
      answerURL: async (callID: string, answer: string) =>
        (await worker()).evaluate(
          ({ callID, answer }) =>
            (self as unknown as { answerURL(c: string, a: string): string }).answerURL(
              callID,
              answer,
            ),
          { callID, answer },
        ),
    };
  }

  it("says plainly why turning on fails, and registers a subscription for the user's device", async () => {
    // Notifications blocked: the page says where to allow them.
    const blocked = await signedIn(await browserOf("carol", false), "carol");
    await pushPanel(blocked, "off").getByTestId("push-enable").click();
    await expect
      .poll(() => pushPanel(blocked, "failed").getByTestId("push-status").textContent())
      .toContain("Notifications are blocked for this site");

    // Allowed, but the browser's push service is out of reach (headless Chromium refuses).
    const bobBrowser = await browserOf("bob");
    const bob = await signedIn(bobBrowser, "bob");
    await pushPanel(bob, "off").getByTestId("push-enable").click();
    const status = pushPanel(bob, "failed").getByTestId("push-status");
    await expect
      .poll(() => status.textContent())
      .toContain("This browser could not subscribe at its push service");

    // With a subscription from the browser, the page registers it for bob and this tab's device.
    await fakeBrowserPushService(bob, "https://push.example.com/bob-browser");
    await pushPanel(bob, "failed").getByTestId("push-enable").click();
    await pushPanel(bob, "on").waitFor();
    const deviceID = await bob.evaluate(() => sessionStorage.getItem("beckon-demo/device-id"));
    expect(await api("GET", "/users/bob/push-registrations")).toMatchObject([
      {
        userID: "bob",
        deviceID,
        target: { provider: "webpush", endpoint: "https://push.example.com/bob-browser" },
      },
    ]);
    const [registration] = (await api("GET", "/users/bob/push-registrations")) as Array<{
      id: string;
    }>;
    // Nothing here can take a push at that address.
    await api("DELETE", `/users/bob/push-registrations/${registration?.id}`);
  });

  it("a call to a closed tab is a real Web Push: a notification with Accept and Decline, closed by a cancel, answered by a click", async () => {
    const alice = await signedIn(await browserOf("alice"), "alice");
    const daveBrowser = await browserOf("dave");
    const dave = await signedIn(daveBrowser, "dave");
    await fakeBrowserPushService(dave, "https://push.example.com/dave-browser");
    await pushPanel(dave, "off").getByTestId("push-enable").click();
    await pushPanel(dave, "on").waitFor();
    const deviceID = await dave.evaluate(() => sessionStorage.getItem("beckon-demo/device-id"));
    // The same device's subscription, now at the local push service with keys the test holds
    // (a device has one registration per provider: this replaces the page's).
    const subscription = testSubscription("/dave-browser");
    await api("POST", "/users/dave/push-registrations", {
      deviceID,
      target: { provider: "webpush", endpoint: subscription.endpoint, keys: subscription.keys },
    });
    expect(await api("GET", "/users/dave/push-registrations")).toHaveLength(1);
    const worker = await serviceWorkerOf(daveBrowser, dave);

    // Dave closes the tab: no device of his is online, so a call to him is pushed.
    await dave.close();
    await offline("dave");

    const first = await call(alice, "dave");
    const firstID = (await first.getAttribute("data-call-id")) ?? "";
    const invite = await subscription.pushOf("invite", firstID);
    expect(invite.body).toMatchObject({ kind: "invite", callID: firstID, caller: "alice" });
    // The worker rings only when no tab of the demo is visible: wait until it sees Dave's gone.
    await expect.poll(worker.visibleTabs).toBe(0);
    await worker.deliverUntilShown(invite.text, firstID);
    await expect.poll(worker.shown).toEqual([
      {
        title: "alice is calling",
        body: "Video call",
        tag: firstID,
        actions: ["accept", "decline"],
      },
    ]);

    // The caller cancels: the cancel push closes the notification.
    await first.getByTestId("call-cancel").click();
    const cancel = await subscription.pushOf("cancel", firstID);
    expect(cancel.body).toMatchObject({ kind: "cancel", callID: firstID });
    await worker.deliver(cancel.text);
    await expect.poll(worker.shown).toEqual([]);

    // Another call; Accept on its notification answers it in a tab of the demo, once signed in.
    const second = await call(alice, "dave");
    const secondID = (await second.getAttribute("data-call-id")) ?? "";
    const secondInvite = await subscription.pushOf("invite", secondID);
    await expect.poll(worker.visibleTabs).toBe(0);
    await worker.deliverUntilShown(secondInvite.text, secondID);
    await expect.poll(async () => (await worker.shown()).map((n) => n.tag)).toEqual([secondID]);
    const tab = await openDemo(daveBrowser);
    await worker.click(secondID, "accept");
    await tab
      .locator('[data-testid="notice"]', { hasText: "Sign in to accept the call from alice" })
      .waitFor();
    await signIn(tab, "dave");
    await member(second, "dave", "Accepted").waitFor();
    expect(await worker.shown()).toEqual([]);
    await tab.close();

    // With no tab open the worker opens the demo at the answer's address, which declines.
    await offline("dave");
    const third = await call(alice, "dave");
    const thirdID = (await third.getAttribute("data-call-id")) ?? "";
    await expect.poll(worker.visibleTabs).toBe(0);
    await worker.deliverUntilShown((await subscription.pushOf("invite", thirdID)).text, thirdID);
    await expect.poll(async () => (await worker.shown()).map((n) => n.tag)).toEqual([thirdID]);
    const address = await worker.answerURL(thirdID, "decline");
    expect(address).toBe(`${server.httpUrl}/?call=${thirdID}&answer=decline`);
    const opened = await daveBrowser.newPage();
    await opened.goto(address);
    await opened
      .locator('[data-testid="notice"]', { hasText: "Sign in to decline the call" })
      .waitFor();
    expect(new URL(opened.url()).search).toBe("");
    await signIn(opened, "dave");
    await member(third, "dave", "Rejected").waitFor();
    await opened.close();

    // A push that reaches the browser after the deadline shows a missed call, without buttons.
    await offline("dave");
    const fourth = await call(alice, "dave", 1);
    const fourthID = (await fourth.getAttribute("data-call-id")) ?? "";
    const late = await subscription.pushOf("invite", fourthID);
    await member(fourth, "dave", "Timeout").waitFor();
    expect(late.body.deadline).toBeLessThanOrEqual(Date.now());
    await worker.deliverUntilShown(late.text, fourthID);
    await expect
      .poll(async () => (await worker.shown()).filter((n) => n.tag === fourthID))
      .toEqual([
        { title: "Missed call from alice", body: "Beckon demo", tag: fourthID, actions: [] },
      ]);
  }, 120_000);
});
