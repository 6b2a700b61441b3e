// The orchestrator's handle on a child process (a server under test or a load generator), and
// the small command protocol they speak over Node's IPC channel.
import { type ChildProcess, fork } from "node:child_process";

type ParentMessage = { kind: "call"; id: number; cmd: string; args: unknown };
type ChildMessage =
  | { kind: "ready"; info: Record<string, unknown> }
  | { kind: "reply"; id: number; ok: true; result: unknown }
  | { kind: "reply"; id: number; ok: false; error: string };

/** Command handlers of a child; each takes the args the orchestrator sends. */
export type CommandHandlers = Record<string, (args: never) => unknown>;

/**
 * Child side: answers the orchestrator's commands and reports ready. The child exits when the
 * orchestrator goes away (IPC closed), so a crashed run leaves nothing behind.
 */
export function serveCommands(handlers: CommandHandlers, info: Record<string, unknown>): void {
  const send = (message: ChildMessage) => process.send?.(message);
  process.on("message", (raw: ParentMessage) => {
    if (raw?.kind !== "call") return;
    const handler = handlers[raw.cmd] as ((args: unknown) => unknown) | undefined;
    if (!handler) {
      send({ kind: "reply", id: raw.id, ok: false, error: `unknown command ${raw.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(raw.args))
      .then(
        (result) => send({ kind: "reply", id: raw.id, ok: true, result }),
        (error: unknown) =>
          send({
            kind: "reply",
            id: raw.id,
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          }),
      );
  });
  process.on("disconnect", () => process.exit(0));
  send({ kind: "ready", info });
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface StartOptions {
  args?: string[];
  env?: Record<string, string>;
  execArgv?: string[];
  /** How long the child may take to report ready. */
  readyTimeoutMs?: number;
}

export class BenchChild {
  private nextID = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  private exited = false;
  private readonly exitPromise: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    /** performance.now() when the process was forked. */
    readonly forkedAt: number,
  ) {
    this.exitPromise = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exited = true;
        live.delete(child);
        for (const { reject } of this.waiting.values()) {
          reject(new Error(`${name} exited (${signal ?? code}) before replying`));
        }
        this.waiting.clear();
        resolve();
      });
    });
    child.on("message", (message: ChildMessage) => {
      if (message?.kind !== "reply") return;
      const waiter = this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${name}: ${message.error}`));
    });
  }

  /** Forks `script` and waits for its ready message; resolves with the handle and its info. */
  static async start(
    name: string,
    script: URL,
    options: StartOptions = {},
  ): Promise<{ child: BenchChild; info: Record<string, unknown>; readyAt: number }> {
    const forkedAt = performance.now();
    const child = fork(script, options.args ?? [], {
      env: { ...process.env, NODE_ENV: "production", ...options.env },
      execArgv: options.execArgv ?? [],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    live.add(child);
    const handle = new BenchChild(name, child, forkedAt);
    const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`${name} did not start within ${options.readyTimeoutMs ?? 120_000} ms`));
      }, options.readyTimeoutMs ?? 120_000);
      child.on("message", (message: ChildMessage) => {
        if (message?.kind === "ready") {
          clearTimeout(timer);
          resolve(message.info);
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${signal ?? code}) before it was ready`));
      });
    });
    return { child: handle, info, readyAt: performance.now() };
  }

  get pid(): number {
    return this.child.pid as number;
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs = 600_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextID++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: no reply to ${cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ kind: "call", id, cmd, args } satisfies ParentMessage);
    });
  }

  /** Ends the process: SIGTERM, then SIGKILL if it lingers. Resolves once it has exited. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

/** Stops every child, in parallel, ignoring ones already gone. */
export async function stopAll(children: readonly (BenchChild | undefined)[]): Promise<void> {
  await Promise.all(children.map((child) => child?.stop()));
}
