// Packing the workspaces and installing them elsewhere, as a user outside the repository would.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../../../", import.meta.url));
export const publishedPackages = ["protocol", "engine", "server", "sdk"];

/** Runs a command to completion; throws with its output when it fails. */
export function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
  timeout = 300_000,
): string {
  return runWithWarnings(command, args, cwd, env, timeout).stdout;
}

/** Like `run`, and also returns what the command wrote to stderr (npm's warnings). */
export function runWithWarnings(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
  timeout = 300_000,
): { stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, env, encoding: "utf8", timeout });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

/**
 * `npm pack`s the four published workspaces into `dest` and returns the tarballs' paths.
 * `build: false` skips prepack (the tsc build), for a test that runs beside one that builds.
 */
export function packWorkspaces(dest: string, { build = true } = {}): string[] {
  mkdirSync(dest, { recursive: true });
  run(
    "npm",
    [
      "pack",
      "--silent",
      ...(build ? [] : ["--ignore-scripts"]),
      "--pack-destination",
      dest,
      ...publishedPackages.flatMap((name) => ["-w", `packages/${name}`]),
    ],
    repoRoot,
  );
  return readdirSync(dest)
    .filter((file) => file.endsWith(".tgz"))
    .map((file) => join(dest, file));
}

/**
 * Environment for `npm install`/`npm ci` outside the repository: packages from the npm cache
 * when it has them, and the repository's compiled SQLite addon as a local prebuild. Where no
 * prebuilt binary can be downloaded (as here) better-sqlite3 would otherwise compile from
 * source for minutes; its install script still runs and unpacks this one, as it would a
 * download.
 */
export function installEnv(prebuildsDir: string): NodeJS.ProcessEnv {
  mkdirSync(prebuildsDir, { recursive: true });
  const sqlite = join(repoRoot, "node_modules", "better-sqlite3");
  const { version } = JSON.parse(readFileSync(join(sqlite, "package.json"), "utf8")) as {
    version: string;
  };
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  run(
    "tar",
    ["czf", join(prebuildsDir, name), "-C", sqlite, "build/Release/better_sqlite3.node"],
    repoRoot,
  );
  return {
    ...process.env,
    NODE_ENV: "",
    npm_config_prefer_offline: "true",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_better_sqlite3_local_prebuilds: prebuildsDir,
  };
}
