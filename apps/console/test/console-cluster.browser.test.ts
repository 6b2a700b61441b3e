// The console against a two-node cluster (PostgreSQL + Redis): a session opened on one node is
// honoured by the other; the Now page sums both nodes' devices; a call rung from one node to a
// device on the other shows every step on either node's console.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BeckonServer, createServer } from "@beckon/server";
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
        .toContain("Accepted by bob on bob-phone");
      const labels = await page.getByTestId("step-label").allTextContents();
      const order = [
        "Call created by alice",
        "Sent to bob · bob-phone",
        "Received on bob · bob-phone",
        "Accepted by bob on bob-phone",
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
    });
  },
);
