// The console against a two-node cluster (PostgreSQL + Redis): a session opened on one node is
// honoured by the other; the Now page sums both nodes' devices; a call rung from one node to a
// device on the other shows every step on either node's console.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BeckonServer, createServer } from "@beckon/server";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runApikeyCommand } from "../../../packages/server/src/cli-apikey.js";
import {
  postgresUrl,
  redisUrl,
  useClusterServices,
} from "../../../packages/server/test/support/services.js";
import { Harness, hasChromium, inCI, noteSkip, SECRET } from "./console-harness.js";

noteSkip("console-cluster.browser.test");
const services = await useClusterServices();

describe.skipIf((!hasChromium && !inCI) || !services.available)(
  "the console on a cluster",
  { timeout: 120_000 },
  () => {
    const harness = new Harness();
    beforeAll(() => harness.start(), 60_000);
    afterEach(() => harness.afterEach());
    afterAll(() => harness.stop());

    async function cluster(): Promise<{ nodes: [BeckonServer, BeckonServer]; adminKey: string }> {
      const store = `${postgresUrl}?schema=${services.schema()}`;
      const prefix = services.prefix();
      const dir = mkdtempSync(join(tmpdir(), "beckon-console-cluster-"));
      services.cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const created = await runApikeyCommand(["create", "ops", "--scopes", "admin"], {
        dataDir: dir,
        store,
      });
      expect(created.exitCode).toBe(0);
      const adminKey = /bk_[A-Za-z0-9_-]+/.exec(created.output)?.[0] as string;
      const nodes = await Promise.all(
        [1, 2].map((node) =>
          createServer({
            secret: SECRET,
            logLevel: "silent",
            store,
            redis: `${redisUrl}?prefix=${encodeURIComponent(prefix)}`,
            consoleDir: harness.distDir,
            services: { nodeID: `node-${node}` },
          }),
        ),
      );
      services.cleanups.push(async () => {
        await Promise.all(nodes.map((node) => node.close()));
      });
      return { nodes: nodes as [BeckonServer, BeckonServer], adminKey };
    }

    it("sums both nodes' rings and ring latency on either node's Now page, with each node's share", async () => {
      const { nodes, adminKey } = await cluster();
      const [one, two] = nodes;
      // A call committed (and delivered, so its ring latency observed) on each node.
      const alice = await harness.device(one.url, "alice", "alice-laptop");
      const bob = await harness.device(one.url, "bob", "bob-phone");
      const carol = await harness.device(two.url, "carol", "carol-laptop");
      const dave = await harness.device(two.url, "dave", "dave-phone");
      const rung = (client: typeof bob) =>
        new Promise<void>((resolve) => client.on("callInvitationReceived", () => resolve()));
      const bobRung = rung(bob);
      const daveRung = rung(dave);
      await alice.callInvite(["bob"], { timeout: 60 });
      await carol.callInvite(["dave"], { timeout: 60 });
      await Promise.all([bobRung, daveRung]);

      const pages = await Promise.all(
        [one, two].map(async (node) => {
          const page = await harness.open(node.httpUrl);
          await harness.signIn(page, adminKey);
          return page;
        }),
      );
      for (const page of pages) {
        await expect.poll(() => page.getByTestId("stat-rings").textContent()).toBe("2");
        await expect.poll(() => page.getByTestId("stat-devices").textContent()).toBe("4");
        // Each node delivered one ring: the latency figures are both nodes' histograms summed.
        await expect
          .poll(() =>
            page.locator(".tile-note", { hasText: "deliveries, last hour" }).textContent(),
          )
          .toBe("2 deliveries, last hour");
        for (const nodeID of ["node-1", "node-2"]) {
          const row = page.locator(`[data-testid="node"][data-node="${nodeID}"]`);
          await expect.poll(() => row.getByTestId("node-delivered").textContent()).toBe("1");
          await expect.poll(() => row.getByTestId("node-devices").textContent()).toBe("2");
        }
        expect(await page.getByTestId("stat-p50").textContent()).not.toBe("—");
      }
      expect(await harness.seriousViolations(pages[1] as Page)).toEqual([]);
      await harness.screenshot(pages[1] as Page, "cluster-now-desktop");
      await harness.phoneScreenshot(pages[1] as Page, "cluster-now-phone");
    });

    it("shows both nodes' devices and a call that crosses them, step by step", async () => {
      const { nodes, adminKey } = await cluster();
      const [one, two] = nodes;
      const alice = await harness.device(one.url, "alice", "alice-laptop");
      const bob = await harness.device(two.url, "bob", "bob-phone");

      const page = await harness.open(two.httpUrl);
      await harness.signIn(page, adminKey);
      await expect.poll(() => page.getByTestId("stat-devices").textContent()).toBe("2");
      expect(await page.locator(".tile-note", { hasText: "2 nodes" }).count()).toBe(1);

      const received = new Promise<void>((resolve) =>
        bob.on("callInvitationReceived", () => resolve()),
      );
      const { callID } = await alice.callInvite(["bob"], { timeout: 60 });
      await expect.poll(() => page.getByTestId("stat-ringing").textContent()).toBe("1");
      await received;
      await bob.callAccept(callID, {});

      // The session cookie node two issued is honoured by node one.
      await page.goto(`${one.httpUrl}/console/#/calls/${callID}`);
      await expect
        .poll(async () => (await page.getByTestId("step-label").allTextContents()).join("\n"))
        .toContain("bob accepted");
      const labels = await page.getByTestId("step-label").allTextContents();
      const order = [
        "Call created by alice",
        "Sent to bob · bob-phone",
        "Received on bob · bob-phone",
        "Accepted by bob on bob-phone",
        "Told alice · alice-laptop, bob · bob-phone: bob accepted",
      ].map((label) => labels.findIndex((text) => text.startsWith(label)));
      expect(order.every((index) => index >= 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      await page.getByTestId("find-input").fill("bob");
      await page.getByTestId("find-input").press("Enter");
      await expect
        .poll(() => page.locator('[data-testid="device"][data-device="bob-phone"]').textContent())
        .toMatch(/on node node-2/);
      expect(await harness.seriousViolations(page)).toEqual([]);
      await harness.screenshot(page, "cluster-user-desktop");
      await harness.phoneScreenshot(page, "cluster-user-phone");
    });
  },
);
