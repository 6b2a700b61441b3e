// What `npm start` / `npm test` say on a fresh clone before anything is installed: that they are
// installing, that SQLite may compile from source and what that needs; and nothing once installed.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";

const script = fileURLToPath(new URL("../../../scripts/ensure-installed.mjs", import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A project with one local dependency, so `npm ci` needs no network. */
function freshClone(): string {
  const dir = mkdtempSync(join(tmpdir(), "beckon-fresh-"));
  dirs.push(dir);
  mkdirSync(join(dir, "local-dep"));
  writeFileSync(join(dir, "local-dep", "package.json"), '{"name":"local-dep","version":"1.0.0"}');
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name: "fresh",
      private: true,
      dependencies: { "local-dep": "file:./local-dep" },
    }),
  );
  const lock = spawnSync(
    "npm",
    ["install", "--package-lock-only", "--offline", "--no-audit", "--no-fund"],
    {
      cwd: dir,
      encoding: "utf8",
    },
  );
  expect(lock.status, lock.stderr).toBe(0);
  return dir;
}

const run = (cwd: string, ...args: string[]) =>
  spawnSync(process.execPath, [script, ...args], { cwd, encoding: "utf8", timeout: 120_000 });

it("a fresh clone is told what is installing, and why SQLite may take minutes", () => {
  const dir = freshClone();
  const first = run(dir, "--before-build");
  expect(first.status, first.stderr).toBe(0);
  expect(first.stdout).toContain("[beckon] Installing dependencies (npm ci)");
  expect(first.stdout).toContain("compiles it from source, which takes a few minutes");
  expect(first.stdout).toContain("needs Python 3, make and a C++ compiler");
  expect(first.stdout).toMatch(/Dependencies installed in \d+ s\./);
  expect(first.stdout).toContain("Building the server, the SDK and the demo page");

  const second = run(dir);
  expect(second.status).toBe(0);
  expect(second.stdout).toBe("");
});
