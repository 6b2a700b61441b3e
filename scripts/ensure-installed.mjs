// Installs the locked dependencies when they are missing or older than the lockfile, so the
// README's commands work on a fresh clone with nothing but Node.js and npm.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const lock = "package-lock.json";
const installed = "node_modules/.package-lock.json";

const fresh = existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs;
if (!fresh) {
  console.log("Installing dependencies (npm ci)...");
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
