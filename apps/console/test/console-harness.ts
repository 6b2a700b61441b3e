// What the console's browser tests share: the console built once into a folder of the run's own,
// Debian's Chromium, sign-in, SDK devices that ring each other over real sockets, a device that
// never acknowledges, axe-core checks and screenshots (test-artifacts/console/).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BeckonClient } from "@beckon/sdk";
import { signToken } from "@beckon/server";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { expect } from "vitest";
import { openRawSocket, type RawSocket } from "../../../packages/server/test/support/raw-socket.js";

export const chromiumPath = "/usr/bin/chromium";
export const hasChromium = existsSync(chromiumPath);
export const inCI = Boolean(process.env.CI);
export const desktop = { width: 1280, height: 860 };
export const phone = { width: 390, height: 844 };
export const SECRET = "console-browser-test-secret-0123456789";

const consoleDir = fileURLToPath(new URL("..", import.meta.url));
const artifacts = fileURLToPath(new URL("../../../test-artifacts/console/", import.meta.url));
const axeSource = readFileSync(
  createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
  "utf8",
);

/** Says why the browser tests are skipped outside CI; in CI a missing browser fails. */
export function noteSkip(file: string): void {
  if (!hasChromium && !inCI) {
    console.warn(
      `[${file}] skipped: ${chromiumPath} is missing. Install it with scripts/ensure-chromium.sh ` +
        "(Debian's chromium package); CI never skips this test.",
    );
  }
}

export class Harness {
  browser!: Browser;
  distDir = "";
  private readonly contexts: BrowserContext[] = [];
  private readonly clients: BeckonClient[] = [];
  private readonly raws: RawSocket[] = [];
  readonly pageErrors: string[] = [];

  async start(): Promise<void> {
    if (!hasChromium) {
      throw new Error(
        `${chromiumPath} is missing (CI never skips): run scripts/ensure-chromium.sh`,
      );
    }
    this.distDir = mkdtempSync(join(tmpdir(), "beckon-console-dist-"));
    mkdirSync(artifacts, { recursive: true });
    // The console as `npm run build:console` builds it.
    await build({
      configFile: join(consoleDir, "vite.config.ts"),
      mode: "production",
      logLevel: "warn",
      build: { outDir: this.distDir, emptyOutDir: true },
    });
    this.browser = await chromium.launch({
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
  }

  /** Closes what one test opened: browser contexts, devices. */
  async afterEach(): Promise<void> {
    await Promise.all(this.contexts.splice(0).map((context) => context.close()));
    await Promise.all(this.clients.splice(0).map((client) => client.destroy().catch(() => {})));
    await Promise.all(this.raws.splice(0).map((raw) => raw.close()));
    expect(this.pageErrors.splice(0)).toEqual([]);
  }

  async stop(): Promise<void> {
    await this.afterEach();
    await this.browser?.close();
    if (this.distDir) rmSync(this.distDir, { recursive: true, force: true });
  }

  /** A fresh browser (its own cookies) on the console of `httpUrl`. */
  async open(httpUrl: string, viewport = desktop): Promise<Page> {
    // axe-core goes in as an inline script, which the console's CSP rightly refuses.
    const context = await this.browser.newContext({ viewport, bypassCSP: true });
    this.contexts.push(context);
    const page = await context.newPage();
    page.on("pageerror", (error) => this.pageErrors.push(error.message));
    await page.goto(`${httpUrl}/console/`);
    return page;
  }

  /** Signs in with `key`; resolves once the Now page is live. */
  async signIn(page: Page, key: string, actions = false): Promise<void> {
    await page.getByTestId("api-key").fill(key);
    if (actions) await page.getByTestId("allow-actions").check();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator('[data-testid="live-state"][data-state="live"]').waitFor();
  }

  /** A logged-in SDK device on `wsUrl`. */
  async device(wsUrl: string, userID: string, deviceID: string): Promise<BeckonClient> {
    const client = new BeckonClient({ url: wsUrl, deviceID });
    this.clients.push(client);
    await client.login(userID, { token: await signToken({ secret: SECRET, userID }) });
    return client;
  }

  /** A logged-in device that never acknowledges an invitation (a phone that lost it). */
  async silentDevice(wsUrl: string, userID: string, deviceID: string): Promise<void> {
    const raw = await openRawSocket(wsUrl);
    this.raws.push(raw);
    const reply = await raw.request(
      JSON.stringify({
        id: 1,
        op: "login",
        data: {
          protocolVersion: 1,
          userID,
          token: await signToken({ secret: SECRET, userID }),
          deviceID,
        },
      }),
    );
    expect(reply.ok).toBe(true);
  }

  /** Serious and critical axe-core violations on the page as it is now. */
  async seriousViolations(page: Page): Promise<string[]> {
    await page.addScriptTag({ content: axeSource });
    const results = await page.evaluate(async () => {
      const axe = (
        window as unknown as {
          axe: {
            run(): Promise<{
              violations: Array<{
                id: string;
                impact: string | null;
                nodes: Array<{ target: unknown[] }>;
              }>;
            }>;
          };
        }
      ).axe;
      return (await axe.run()).violations;
    });
    return results
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.nodes.map((n) => JSON.stringify(n.target)).join(", ")}`);
  }

  /** At phone width: the page scrolls only where it means to (tables in their own box). */
  async phoneScreenshot(page: Page, name: string): Promise<void> {
    await page.setViewportSize(phone);
    await this.screenshot(page, name);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      phone.width,
    );
    expect(await this.seriousViolations(page)).toEqual([]);
  }

  async screenshot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  }
}
