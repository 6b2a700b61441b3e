// Every shell block of README.md and docs/ that a reader is told to run, run from the Markdown as
// written: in a fresh copy of this checkout (its own `npm ci`, build and `./data`) and in a new
// project beside it that installs the packed tarballs, in reading order (README, quick start,
// tokens, deployment, configuration, cluster). Each shell block carries a marker on the line
// before it, so no block can be added without saying how it is checked:
//   <!-- doc-test: checkout -->            run in the copy of the checkout
//   <!-- doc-test: project -->             run in the project (`# in the Beckon checkout` and
//                                          `# in your project` comment lines switch folders)
//   <!-- doc-test: checkout, except C (why) -->   all but the lines that start with C
//   <!-- doc-test: first-app.test.ts -->   run by that test, with the guide's files, in Chromium
//   <!-- doc-test: skip, why -->           cannot run here (Docker, root, publishing)
// Lines run one by one in bash, each starting where the previous one left its folder and exported
// variables. A line that starts a server runs until the end of its block, once it said it is up.
// The only changes made to the text keep runs on a shared machine apart: port numbers become free
// ports, and the PostgreSQL schema and Redis prefix named `beckon` become unique names.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { BeckonClient } from "@beckon/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installEnv, repoRoot, run } from "./support/packages.js";
import { dropRedisKeys, postgresSchemas, uniqueName } from "./support/services.js";

type Context = "checkout" | "project";

interface Block {
  file: string;
  line: number;
  marker: string;
  lang: string;
  code: string;
}

const SHELL = new Set(["sh", "bash", "shell", "console"]);
const READING_ORDER = [
  "README.md",
  "docs/quick-start.md",
  "docs/tokens.md",
  "docs/first-app.md",
  "docs/deployment.md",
  "docs/configuration.md",
  "docs/cluster.md",
];
/** A line that starts a long-running process, and what it prints once it serves. */
const SERVERS: { command: RegExp; ready: RegExp }[] = [
  {
    command: /(^|\s)(npm start|npm run (-s )?beckon -- start|npx beckon start)(\s|$)/,
    ready: /Beckon is running/,
  },
  { command: /(^|\s)npm run dev\b/, ready: /Local:\s+http/ },
];
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

function markdownFiles(): string[] {
  const docs = readdirSync(join(repoRoot, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`);
  const rest = docs.filter((file) => !READING_ORDER.includes(file)).sort();
  return [...READING_ORDER, ...rest];
}

/** Fenced blocks with the marker comment on the line before each (or "" when there is none). */
function blocksOf(file: string): Block[] {
  const lines = readFileSync(join(repoRoot, file), "utf8").split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(\w*)/.exec(lines[i] ?? "");
    if (!open) continue;
    const indent = open[1] ?? "";
    const end = lines.findIndex((l, j) => j > i && l.trim() === "```");
    if (end < 0) throw new Error(`${file}:${i + 1}: unclosed code block`);
    const marker = /^\s*<!-- (doc-test: .*) -->$/.exec(lines[i - 1] ?? "")?.[1] ?? "";
    const code = lines
      .slice(i + 1, end)
      .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
      .join("\n");
    blocks.push({ file, line: i + 1, marker, lang: open[2] ?? "", code });
    i = end;
  }
  return blocks;
}

/** Logical lines: continuations joined, blank lines dropped, comment-only lines kept. */
function commandLines(code: string): string[] {
  return code
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
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

/** The environment of a user's shell: none of the test runner's npm lifecycle variables. */
function userEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (
      /^(npm_(lifecycle|package|command|node_execpath|config_(?!prefer_offline|audit|fund|better_sqlite3))|INIT_CWD$|BECKON_|NODE_ENV$|VITEST|CI$)/.test(
        key,
      )
    ) {
      continue;
    }
    env[key] = value;
  }
  return env;
}

const allBlocks = markdownFiles().flatMap(blocksOf);
const shellBlocks = allBlocks.filter((b) => SHELL.has(b.lang));
const where = (b: Block) => `${b.file}:${b.line}`;

describe("README.md and docs/: shell blocks", () => {
  it("every shell block says how it is checked (a doc-test marker)", () => {
    const unmarked = shellBlocks.filter((b) => b.marker === "").map(where);
    expect(unmarked).toEqual([]);
    for (const block of shellBlocks) {
      expect(block.marker, where(block)).toMatch(
        /^doc-test: (checkout|project|first-app\.test\.ts|checkout, except .+ \(.+\)|skip, .{8,})$/,
      );
    }
    // Markers on other blocks would promise a run that never happens.
    const stray = allBlocks.filter((b) => !SHELL.has(b.lang) && b.marker !== "").map(where);
    expect(stray).toEqual([]);
  });

  it("the Dockerfile and the docs publish the container's port on the loopback only", () => {
    const texts = [readFileSync(join(repoRoot, "Dockerfile"), "utf8")];
    for (const file of markdownFiles()) texts.push(readFileSync(join(repoRoot, file), "utf8"));
    const published = texts.flatMap((t) => [...t.matchAll(/docker run[^\n]*?-p (\S+)/g)]);
    expect(published.length).toBeGreaterThan(0);
    for (const match of published) expect(match[1]).toMatch(/^127\.0\.0\.1:/);
  });
});

describe("README.md and docs/: every runnable command, as written", () => {
  const work = mkdtempSync(join(tmpdir(), "beckon-docs-"));
  const checkout = join(work, "beckon");
  const project = join(work, "my-project");
  const state = join(work, "state");
  const schemas = postgresSchemas();
  const prefixes: string[] = [];
  const servers: ChildProcess[] = [];
  const outputs = new Map<string, string>();
  const ports: number[] = [];
  let env: NodeJS.ProcessEnv = {};

  beforeAll(async () => {
    // A fresh clone: the files git would check out (with this working tree's edits), nothing
    // installed or built.
    const files = run("git", ["ls-files", "-co", "--exclude-standard", "-z"], repoRoot)
      .split("\0")
      .filter((f) => f !== "" && existsSync(join(repoRoot, f)));
    for (const file of files) {
      mkdirSync(dirname(join(checkout, file)), { recursive: true });
      cpSync(join(repoRoot, file), join(checkout, file));
    }
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      `${JSON.stringify({ name: "my-project", version: "1.0.0", private: true }, null, 2)}\n`,
    );
    mkdirSync(state);
    // Packages from the npm cache where it has them, and SQLite's addon from this checkout
    // instead of minutes of compiling (installEnv); `npm start` listens on a free port.
    env = {
      ...userEnv(installEnv(join(work, "prebuilds"))),
      BECKON_PORT: String(await freePort()),
    };
  }, 60_000);

  afterAll(async () => {
    await stopServers();
    await schemas.dropAll();
    for (const prefix of prefixes) await dropRedisKeys(prefix);
    rmSync(work, { recursive: true, force: true });
  }, 120_000);

  async function stopServers(): Promise<void> {
    await Promise.all(
      servers.splice(0).map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        // The whole group: npm, the shell and the node process it started.
        process.kill(-(child.pid as number), "SIGTERM");
        await exited;
      }),
    );
  }

  async function substitute(line: string): Promise<string> {
    let text = line;
    for (const match of [...line.matchAll(/--port (\d+)/g)]) {
      const port = await freePort();
      ports.push(port);
      text = text.replace(match[0], `--port ${port}`);
    }
    if (/schema=beckon\b/.test(text))
      text = text.replace(/schema=beckon\b/, `schema=${schemas.create()}`);
    if (/prefix=beckon:/.test(text)) {
      const prefix = `${uniqueName("beckon_docs")}:`;
      prefixes.push(prefix);
      text = text.replace(/prefix=beckon:/, `prefix=${prefix}`);
    }
    return text;
  }

  /** Runs one line in bash where the last one left off; the new folder and variables are kept. */
  function runLine(line: string, cwd: string, context: Context, at: string): string {
    const script = `${line}\npwd > "${state}/cwd"\nenv -0 > "${state}/env"\n`;
    const result = spawnSync("bash", ["-e", "-c", script], {
      cwd,
      env,
      encoding: "utf8",
      timeout: 600_000,
    });
    expect(result.status, `${at}: \`${line}\` failed:\n${result.stdout}\n${result.stderr}`).toBe(0);
    if (context === "checkout") {
      expect(result.stderr, `${at}: \`${line}\``).not.toContain("EBADENGINE");
    }
    env = Object.fromEntries(
      readFileSync(join(state, "env"), "utf8")
        .split("\0")
        .filter((pair) => pair.includes("="))
        .map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]),
    );
    return result.stdout;
  }

  async function startServer(line: string, cwd: string, ready: RegExp, at: string): Promise<void> {
    const child = spawn("bash", ["-c", line], {
      cwd,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    servers.push(child);
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal colours
        if (ready.test(output.replace(/\x1b\[[0-9;]*m/g, ""))) resolve();
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", (code) =>
        reject(new Error(`${at}: \`${line}\` exited with ${code} before it served:\n${output}`)),
      );
    });
    expect(output, `${at}: \`${line}\``).not.toContain("EBADENGINE");
  }

  async function runBlock(block: Block, whileServing?: () => Promise<void>): Promise<void> {
    const context: Context = block.marker.startsWith("doc-test: project") ? "project" : "checkout";
    const except = /, except (.+?) \(/.exec(block.marker)?.[1];
    let cwd = context === "project" ? project : checkout;
    for (const [index, raw] of commandLines(block.code).entries()) {
      const at = `${where(block)} line ${index + 1}`;
      if (/^# in the Beckon checkout/.test(raw)) cwd = checkout;
      if (/^# in your project/.test(raw)) cwd = project;
      if (raw.startsWith("#")) continue;
      if (except && raw.startsWith(except)) continue;
      const line = await substitute(raw);
      const command = line.replace(/#.*$/, "");
      // `start --help` prints and ends like any other command.
      const server = /\s--help\b/.test(command)
        ? undefined
        : SERVERS.find((s) => s.command.test(command));
      if (server) {
        await startServer(line, cwd, server.ready, at);
        continue;
      }
      const stdout = runLine(line, cwd, context, at);
      outputs.set(raw, stdout);
      cwd = readFileSync(join(state, "cwd"), "utf8").trim();
      if (/\btoken \w+/.test(line.replace(/#.*$/, ""))) {
        expect(stdout.trim(), `${at}: a token and nothing else on stdout`).toMatch(JWT);
      }
    }
    await whileServing?.();
    await stopServers();
  }

  const runnable = shellBlocks.filter((b) => /^doc-test: (checkout|project)/.test(b.marker));

  it("there is something to run: the quick start, the tarballs and the cluster", () => {
    const files = new Set(runnable.map((b) => b.file));
    for (const file of ["README.md", "docs/deployment.md", "docs/cluster.md"]) {
      expect(files).toContain(file);
    }
  });

  it.each(runnable.map((b) => [where(b), b] as const))(
    "%s",
    async (_where, block) => {
      const started = ports.length;
      await runBlock(block, async () => {
        if (block.file !== "docs/cluster.md") return;
        // The token `npx beckon token` printed logs in on every node the block started.
        const tokenLine = [...outputs.keys()].find((l) => /beckon token alice/.test(l));
        const token = outputs.get(tokenLine ?? "")?.trim() ?? "";
        const nodes = ports.slice(started);
        expect(nodes.length).toBeGreaterThanOrEqual(2);
        for (const port of nodes) {
          const client = new BeckonClient({ url: `ws://127.0.0.1:${port}/ws` });
          try {
            await client.login("alice", { token });
          } finally {
            await client.destroy();
          }
        }
      });
    },
    900_000,
  );
});
