// A store error during the start-up sweep once escaped as an unhandled rejection and ended the
// process. Now it is logged and the node keeps serving; a process running `beckon start` logs
// any stray rejection and stays up.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, expect, it } from "vitest";
import { useWorld } from "./support/world.js";

const dirs: string[] = [];
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);

afterEach(() => {
  process.off("unhandledRejection", onRejection);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
// After the hook above, so it runs before it: servers stop before their data dirs go.
const world = useWorld();

it("a call the store cannot read back during the restart sweep does not stop the node", async () => {
  const dir = mkdtempSync(join(tmpdir(), "beckon-sweep-"));
  dirs.push(dir);
  const store = join(dir, "beckon.db");
  const first = await world.server({ store });
  const alice = await world.device(first, "alice");
  await world.device(first, "bob");
  await alice.client.callInvite(["bob"], { timeout: 60 });
  await alice.client.destroy();
  await first.close();
  const db = new Database(store);
  db.prepare("UPDATE calls SET data = '{not json'").run();
  db.close();

  process.on("unhandledRejection", onRejection);
  const second = await world.server({ store });
  const carol = await world.device(second, "carol");
  const dave = await world.device(second, "dave");
  const { callID } = await carol.client.callInvite(["dave"], { timeout: 30 });
  await dave.waitFor("callInvitationReceived", (event) => event.callID === callID);
  expect((await fetch(`${second.httpUrl}/healthz`)).status).toBe(200);
  // Closing waits for the sweep: it must have ended without a stray rejection.
  await carol.client.destroy();
  await dave.client.destroy();
  await expect(second.close()).resolves.toBeUndefined();
  expect(rejections).toEqual([]);
});

it("the process guards log a stray rejection and keep the process running", async () => {
  const guards = fileURLToPath(new URL("../dist/process-guards.js", import.meta.url));
  if (!existsSync(guards)) throw new Error("packages/server/dist is missing: run `npm run build`");
  const script = `
    const { installProcessGuards } = await import(${JSON.stringify(guards)});
    installProcessGuards();
    Promise.reject(new Error("stray"));
    setImmediate(() => setImmediate(() => process.stdout.write("still running\\n")));
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  expect(code).toBe(0);
  expect(output).toContain("unhandled promise rejection; still serving");
  expect(output).toContain("still running");
});
