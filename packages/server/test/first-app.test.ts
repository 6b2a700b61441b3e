// docs/first-app.md, run as written: its shell steps in an empty folder (the packages from
// tarballs of this checkout), its files written out verbatim, `node server.js`, and two users in
// Chromium ringing each other on its page.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installEnv, packWorkspaces, repoRoot, run } from "./support/packages.js";

const chromiumPath = "/usr/bin/chromium";
const hasChromium = existsSync(chromiumPath);
const inCI = Boolean(process.env.CI);
if (!hasChromium && !inCI) {
  console.warn(
    `[first-app.test] skipped: ${chromiumPath} is missing; install it with scripts/ensure-chromium.sh`,
  );
}

interface Block {
  lang: string;
  code: string;
}

function codeBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1] ?? "",
    code: m[2] ?? "",
  }));
}

/** The file a block belongs in, from its first line: `// name` or `<!-- name -->`. */
function fileOf(block: Block): string | undefined {
  const first = block.code.split("\n")[0] ?? "";
  return /^\/\/ ([\w./-]+\.\w+)$/.exec(first)?.[1] ?? /^<!-- ([\w./-]+\.\w+) -->$/.exec(first)?.[1];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

describe.skipIf(!hasChromium && !inCI)("docs/first-app.md", () => {
  const work = mkdtempSync(join(tmpdir(), "beckon-first-app-"));
  const project = join(work, "my-calls");
  let app: ChildProcess | undefined;
  let browser: Browser | undefined;
  let appUrl = "";
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${chromiumPath} is missing: run scripts/ensure-chromium.sh`);
    if (!existsSync(join(repoRoot, "packages", "server", "dist", "index.js"))) {
      throw new Error("packages/*/dist is missing: run `npm run build` first");
    }
    const blocks = codeBlocks(readFileSync(join(repoRoot, "docs", "first-app.md"), "utf8"));
    // The guide installs the tarballs `npm run pack` writes to a checkout's packs/, from next to
    // that checkout (../beckon). Packed without prepack: pack-install.test.ts builds beside this
    // file; here the build that `npm test` ran first is what gets packed.
    packWorkspaces(join(work, "beckon", "packs"), { build: false });
    const env = { ...installEnv(join(work, "prebuilds")), BECKON_SECRET: "" };

    const setup = blocks.find((b) => b.lang === "sh" && b.code.includes("npm init"));
    if (!setup) throw new Error("the guide's setup steps are missing");
    for (const line of setup.code.trim().split("\n")) {
      if (line.startsWith("mkdir my-calls")) {
        run("sh", ["-c", line], work, env); // its `cd` is where the next lines run
        continue;
      }
      if (line.startsWith("export BECKON_SECRET=")) {
        env.BECKON_SECRET = run("sh", ["-c", `${line} && printf %s "$BECKON_SECRET"`], project);
        continue;
      }
      expect(line, "the packages come from the checkout's tarballs").not.toContain("@beckon/");
      run("sh", ["-c", line], project, env);
    }
    expect(env.BECKON_SECRET?.length).toBeGreaterThanOrEqual(16);

    const files = blocks.flatMap((block) => {
      const file = fileOf(block);
      return file ? [{ file, code: block.code }] : [];
    });
    expect(files.map((f) => f.file).sort()).toEqual([
      "public/app.js",
      "public/index.html",
      "server.js",
    ]);
    for (const { file, code } of files) {
      mkdirSync(dirname(join(project, file)), { recursive: true });
      writeFileSync(join(project, file), code);
    }

    const start = blocks.find((b) => b.lang === "sh" && b.code.trim() === "node server.js");
    expect(start, "the guide says to run `node server.js`").toBeDefined();
    const port = await freePort();
    app = spawn(process.execPath, ["server.js"], {
      cwd: project,
      env: { ...env, PORT: String(port), BECKON_PORT: String(await freePort()) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes(`Open http://localhost:${port}/`)) resolve();
      };
      app?.stdout?.on("data", onData);
      app?.stderr?.on("data", onData);
      app?.once("exit", (code) =>
        reject(new Error(`node server.js exited with ${code}: ${output}`)),
      );
    });
    appUrl = `http://127.0.0.1:${port}/`;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    if (app && app.exitCode === null && app.signalCode === null) {
      const exited = new Promise((resolve) => app?.once("exit", resolve));
      app.kill("SIGTERM");
      await exited;
    }
    // The project's node_modules and the tarballs: slow to delete on a busy machine.
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  async function signIn(userID: string): Promise<Page> {
    const context = await (browser as Browser).newContext();
    const page = await context.newPage();
    page.on("pageerror", (error) => pageErrors.push(`${userID}: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(`${userID}: ${message.text()}`);
    });
    await page.goto(appUrl);
    await page.fill("#me", userID);
    await page.click("#signin button");
    await page.locator("#status", { hasText: `Signed in as ${userID}` }).waitFor();
    return page;
  }

  it("alice rings bob from one tab to another, bob accepts, alice sees it", async () => {
    const alice = await signIn("alice");
    const bob = await signIn("bob");
    await alice.fill("#who", "bob");
    await alice.click("#dial button");
    await alice.locator("#status", { hasText: "Calling bob" }).waitFor();
    await bob.locator("#incoming").waitFor({ state: "visible" });
    expect(await bob.textContent("#caller")).toBe("alice");
    await bob.click("#accept");
    await alice.locator("#status", { hasText: "bob accepted" }).waitFor();
    await bob.locator("#status", { hasText: "In a call with alice" }).waitFor();

    // Calling someone who never signed in fails, and the page says so.
    await alice.fill("#who", "carol");
    await alice.click("#dial button");
    await alice.locator("#status", { hasText: "Could not call carol" }).waitFor();
    expect(pageErrors).toEqual([]);
  });
});
