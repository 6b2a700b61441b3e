// A PostgreSQL and a Redis of a test's own, on free loopback ports, that the test may kill,
// restart or freeze: never the machine's shared ones. Both are stopped by `stop()`.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The newest installed PostgreSQL's bin directory, or null. */
function postgresBin(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((name) => existsSync(join(root, name, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : null;
}

/**
 * Whether an own PostgreSQL and Redis can be started here (their binaries are installed). Locally
 * their absence skips the tests with a line saying so; under CI=true it fails them.
 */
export function canRunOwnServices(): boolean {
  if (postgresBin() !== null && existsSync("/usr/bin/redis-server")) return true;
  const why = "PostgreSQL (/usr/lib/postgresql/*/bin) or redis-server is not installed";
  if (process.env.CI === "true") throw new Error(`${why}: required under CI=true`);
  process.stderr.write(`\n*** SKIPPED: ${why}; the fault tests did not run. ***\n\n`);
  return false;
}

export interface OwnPostgres {
  url: string;
  /** Stops at once: every connection is cut, new ones are refused until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Stops at once (connections are cut) and starts again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * initdb into a temporary directory and start it. PostgreSQL refuses to run as root, so as root
 * it runs as the `postgres` OS user.
 */
export async function startOwnPostgres(): Promise<OwnPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error("PostgreSQL binaries are not installed");
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "beckon-pg-"));
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  chmodSync(dir, 0o700);
  const tool = (name: string, args: string[]) =>
    asRoot
      ? run("runuser", ["-u", "postgres", "--", join(bin, name), ...args])
      : run(join(bin, name), args);
  const data = join(dir, "data");
  await tool("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = () =>
    tool("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "log"), "-w", "start"]);
  const halt = () => tool("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    down: async () => {
      await halt();
    },
    up: async () => {
      await start();
    },
    async restart(downMs = 0) {
      await halt();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    async stop() {
      await halt().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface OwnRedis {
  url: string;
  /** Kills the server (its data is gone: no persistence) and starts a fresh one on the port. */
  restart(downMs?: number): Promise<void>;
  /** Freezes the server (SIGSTOP) for `ms`: connections stay open, nothing is answered. */
  stall(ms: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    const started = spawn(
      "/usr/bin/redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    child = started;
    // Ready once it answers.
    for (let attempt = 0; ; attempt++) {
      try {
        await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "ping"]);
        return;
      } catch (error) {
        if (attempt > 100 || started.exitCode !== null) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  const kill = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGCONT");
    running.kill("SIGKILL");
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart(downMs = 0) {
      await kill();
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    async stall(ms) {
      const running = child;
      if (!running) throw new Error("Redis is not running");
      running.kill("SIGSTOP");
      await new Promise((resolve) => setTimeout(resolve, ms));
      running.kill("SIGCONT");
    },
    stop: kill,
  };
}
