// A node started the ordinary way serves the server API, metrics and webhooks: a key from
// `beckon apikey create` rings a logged-in device through /api, and a webhook endpoint added
// through the API hears the call, signed.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { runApikeyCommand } from "../src/cli-apikey.js";
import { HttpReceiver } from "./support/http-receiver.js";
import { useWorld } from "./support/world.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
// After the hook above, so it runs before it: servers stop before their data dirs go.
const world = useWorld();

it("an API key made by the CLI rings a device through /api, and a webhook hears the call", async () => {
  const dir = mkdtempSync(join(tmpdir(), "beckon-node-api-"));
  dirs.push(dir);
  const created = await runApikeyCommand(["create", "backend", "--scopes", "read,write,admin"], {
    dataDir: dir,
  });
  expect(created.exitCode).toBe(0);
  const key = /bk_[A-Za-z0-9_-]+/.exec(created.output)?.[0];
  expect(key).toBeDefined();
  const server = await world.server({ store: join(dir, "beckon.db") });
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${server.httpUrl}/api${path}`, {
      ...init,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    });

  const receiver = await new HttpReceiver().start();
  try {
    const endpoint = await api("/webhooks/endpoints", {
      method: "POST",
      body: JSON.stringify({ url: receiver.url }),
    });
    expect(endpoint.status).toBeLessThan(300);
    const bob = await world.device(server, "bob");
    await world.device(server, "support");
    const call = await api("/calls", {
      method: "POST",
      body: JSON.stringify({ caller: "support", invitees: ["bob"], timeout: 30 }),
    });
    expect(call.status).toBe(201);
    const { callID } = (await call.json()) as { callID: string };
    await bob.waitFor("callInvitationReceived", (e) => e.callID === callID);
    const [delivery] = await receiver.waitFor(1, (request) => request.text.includes(callID));
    expect(delivery?.headers["webhook-signature"]).toMatch(/^v1,/);
    expect((await fetch(`${server.httpUrl}/api/openapi.json`)).status).toBe(200);
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    expect(metrics).toContain("beckon_calls_created_total");
  } finally {
    await receiver.stop();
  }
});
