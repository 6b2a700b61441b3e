// Installs the locked dependencies when they are missing or older than the lockfile, so the
// README's commands work on a fresh clone with nothing but Node.js and npm, and says what it is
// doing: the native SQLite module may compile from source for minutes.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";

const lock = "package-lock.json";
const installed = "node_modules/.package-lock.json";
const say = (line) => console.log(`[beckon] ${line}`);

const [major, minor] = process.versions.node.split(".").map(Number);
// The releases the test suite runs on (package.json's engines): 20.19+, 22.13+ and 24+.
const supported = (major === 20 && minor >= 19) || (major === 22 && minor >= 13) || major >= 24;
if (!supported) {
  say(
    `Beckon runs on Node.js 22 (22.13 or newer) or 24, and 20.19+; this is ${process.versions.node}.`,
  );
  if (major < 20 || (major === 20 && minor < 19)) process.exit(1);
}

/** Tools node-gyp needs to compile better-sqlite3 when no prebuilt binary can be downloaded. */
function missingToolchain() {
  const has = (command) => spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;
  const missing = [];
  if (!has("python3") && !has("python")) missing.push("Python 3");
  if (!has("make")) missing.push("make");
  if (!has("c++") && !has("g++") && !has("clang++")) missing.push("a C++ compiler");
  return missing;
}

function sqliteLoads() {
  try {
    const Database = createRequire(`${process.cwd()}/`)("better-sqlite3");
    new Database(":memory:").close();
    return true;
  } catch {
    return false;
  }
}

async function install() {
  say("Installing dependencies (npm ci); this happens on the first run and after updates.");
  say("better-sqlite3 (SQLite) is a native module: npm fetches a prebuilt binary where one exists");
  say("for this platform, and otherwise compiles it from source, which takes a few minutes and");
  say("needs Python 3, make and a C++ compiler (Debian/Ubuntu: apt-get install python3 make g++).");
  const missing = missingToolchain();
  if (missing.length > 0) {
    say(
      `Not found here: ${missing.join(", ")}. Fine if a prebuilt binary downloads; if not, install them.`,
    );
  }
  const started = Date.now();
  const child = spawn("npm", ["ci", "--no-audit", "--no-fund"], { stdio: "inherit" });
  const ticker = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    say(
      `still installing (${seconds} s)${seconds >= 60 ? "; compiling SQLite from source takes a few minutes" : ""}...`,
    );
  }, 20_000);
  const code = await new Promise((resolve) => child.on("exit", (status) => resolve(status ?? 1)));
  clearInterval(ticker);
  if (code !== 0) {
    say(
      `npm ci failed (exit ${code}). If the error is from better-sqlite3 / node-gyp, install Python 3,`,
    );
    say("make and a C++ compiler, then run the command again.");
    process.exit(code);
  }
  say(`Dependencies installed in ${Math.round((Date.now() - started) / 1000)} s.`);
}

const fresh = existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs;
if (!fresh) await install();
if (existsSync("node_modules/better-sqlite3") && !sqliteLoads()) {
  say(
    "better-sqlite3 is installed but its native module does not load (built for another Node.js?).",
  );
  say(
    "Run: npm rebuild better-sqlite3   (needs Python 3, make and a C++ compiler if it compiles).",
  );
  process.exit(1);
}
if (process.argv.includes("--before-build")) {
  say("Building the server, the SDK and the demo page (tsc, vite)...");
}
