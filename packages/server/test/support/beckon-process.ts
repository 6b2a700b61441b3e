// `beckon` run as a user runs it, as a child process of the test: started, read from its banner,
// and stopped; `stopAll` (in afterEach) kills whatever a failed test left running.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const cliPath = fileURLToPath(new URL("../../dist/cli.js", import.meta.url));

export function assertBuilt(): void {
  // `npm test` builds first (typecheck runs tsc -b); a bare `vitest run` may not have.
  if (!existsSync(cliPath))
    throw new Error("packages/server/dist is missing: run `npm run build` first");
}

export interface RunningBeckon {
  child: ChildProcess;
  banner: string;
  url: string;
  httpUrl: string;
}

const children: ChildProcess[] = [];

/** `beckon start …`; resolves with its banner once it has printed all of it. */
export async function startBeckon(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): Promise<RunningBeckon> {
  const child = spawn(process.execPath, [cliPath, "start", ...args], {
    env,
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /WebSocket: (ws:\S+)/.exec(output);
      if (match?.[1] && output.includes("Push:")) resolve(match[1]);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => reject(new Error(`beckon start exited with ${code}: ${output}`)));
  });
  return { child, banner: output, url, httpUrl: url.replace("ws:", "http:").replace(/\/ws$/, "") };
}

/** SIGTERM, and the exit code. */
export async function stopBeckon(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  return exited;
}

export async function stopAll(): Promise<void> {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }
}

/** A `beckon` command that ends by itself (checkconfig, token, …). */
export function runBeckon(args: string[], env: NodeJS.ProcessEnv, cwd?: string) {
  // A command that unexpectedly keeps running fails the test instead of hanging it.
  return spawnSync(process.execPath, [cliPath, ...args], {
    env,
    cwd,
    encoding: "utf8",
    timeout: 20_000,
  });
}
