// The option schema as createServer and the CLI apply it: precedence of flag, BECKON_* variable,
// config file and default, and clear refusals of bad values.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "@beckon/server";
import { afterEach, describe, expect, it } from "vitest";
import { resolveCli, UsageError } from "../src/cli-options.js";
import { InvalidOptionsError } from "../src/server-options.js";
import { SECRET } from "./support/world.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function folder(config?: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "beckon-options-"));
  dirs.push(dir);
  if (config !== undefined) writeFileSync(join(dir, "beckon.config.json"), JSON.stringify(config));
  return dir;
}

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error("expected a UsageError");
}

describe("precedence: flag > BECKON_* > config file > default", () => {
  it("uses the defaults when nothing is given", () => {
    const { options, configFile } = resolveCli(["start"], {}, folder());
    expect(configFile).toBeUndefined();
    expect(options).toMatchObject({
      port: 4000,
      host: "127.0.0.1",
      data: "./data",
      production: false,
      heartbeatIntervalMs: 10_000,
      rateLimit: { burst: 200, perSecond: 100 },
      logLevel: "info",
    });
  });

  it("each layer overrides the one below it, option by option", () => {
    const cwd = folder({
      port: 5000,
      host: "0.0.0.0",
      heartbeatIntervalMs: 20_000,
      logLevel: "warn",
      rateLimit: { burst: 10 },
    });
    const env = { BECKON_PORT: "6000", BECKON_HEARTBEAT_INTERVAL_MS: "30000" };
    const { options, sources } = resolveCli(["start", "--port", "7000"], env, cwd);
    expect(options.port).toBe(7000);
    expect(sources.get("port")).toBe("--port");
    expect(options.heartbeatIntervalMs).toBe(30_000);
    expect(sources.get("heartbeatIntervalMs")).toBe("BECKON_HEARTBEAT_INTERVAL_MS");
    expect(options.host).toBe("0.0.0.0");
    expect(options.logLevel).toBe("warn");
    expect(sources.get("logLevel")).toBe(join(cwd, "beckon.config.json"));
    // A nested option set in part keeps the default of the rest.
    expect(options.rateLimit).toEqual({ burst: 10, perSecond: 100 });
  });

  it("--config and BECKON_CONFIG name the file; paths in it are relative to it", () => {
    const cwd = folder({ port: 5000 });
    const other = join(cwd, "etc");
    mkdirSync(other);
    writeFileSync(join(other, "node.json"), JSON.stringify({ port: 5100, data: "state" }));
    const byFlag = resolveCli(["start", "--config", "etc/node.json"], {}, cwd);
    expect(byFlag.options.port).toBe(5100);
    expect(byFlag.options.data).toBe(join(other, "state"));
    const byEnv = resolveCli(["start"], { BECKON_CONFIG: join(other, "node.json") }, cwd);
    expect(byEnv.options.port).toBe(5100);
  });

  it("NODE_ENV=production turns on production mode unless BECKON_PRODUCTION says otherwise", () => {
    const cwd = folder();
    expect(resolveCli(["start"], { NODE_ENV: "production" }, cwd).options.production).toBe(true);
    expect(
      resolveCli(["start"], { NODE_ENV: "production", BECKON_PRODUCTION: "false" }, cwd).options
        .production,
    ).toBe(false);
    expect(resolveCli(["start", "--production"], {}, cwd).options.production).toBe(true);
  });

  it("BECKON_LOG_LEVEL and --log-level set the log level", () => {
    const cwd = folder();
    expect(resolveCli(["start"], { BECKON_LOG_LEVEL: "debug" }, cwd).options.logLevel).toBe(
      "debug",
    );
    expect(
      resolveCli(["start", "--log-level", "error"], { BECKON_LOG_LEVEL: "debug" }, cwd).options
        .logLevel,
    ).toBe("error");
  });
});

describe("validation", () => {
  it("refuses a heartbeat of 0 and a notReceivedCheck outside 3–5 s, naming flag and source", () => {
    const cwd = folder({ notReceivedCheckMs: 6000 });
    const message = usageError(() =>
      resolveCli(["start", "--heartbeat-interval-ms", "0"], {}, cwd),
    );
    expect(message).toContain("heartbeatIntervalMs (--heartbeat-interval-ms");
    expect(message).toContain("from --heartbeat-interval-ms: must be at least 10 (got 0)");
    expect(message).toContain(
      `notReceivedCheckMs (--not-received-check-ms / BECKON_NOT_RECEIVED_CHECK_MS) from ${join(cwd, "beckon.config.json")}: must be at most 5000 (got 6000)`,
    );
  });

  it("refuses negative windows, text where a number belongs, unknown options and levels", () => {
    const cwd = folder();
    expect(usageError(() => resolveCli(["start"], { BECKON_RESUME_WINDOW_MS: "-1" }, cwd))).toMatch(
      /resumeWindowMs .* from BECKON_RESUME_WINDOW_MS: must be at least 0 \(got -1\)/,
    );
    expect(usageError(() => resolveCli(["start", "--port", "80a"], {}, cwd))).toBe(
      '--port must be an integer (got "80a")',
    );
    expect(usageError(() => resolveCli(["start", "--prot", "80"], {}, cwd))).toContain(
      "Unknown option '--prot'",
    );
    expect(usageError(() => resolveCli(["start", "--log-level", "loud"], {}, cwd))).toContain(
      "logLevel (--log-level / BECKON_LOG_LEVEL) from --log-level",
    );
    expect(usageError(() => resolveCli(["start", "--port", "70000"], {}, cwd))).toContain(
      "must be at most 65535 (got 70000)",
    );
  });

  it("refuses a config file with a typo, a secret, bad JSON, or that does not exist", () => {
    expect(usageError(() => resolveCli(["start"], {}, folder({ prot: 80 })))).toContain(
      "unknown option(s) prot",
    );
    expect(usageError(() => resolveCli(["start"], {}, folder({ secret: "x".repeat(32) })))).toBe(
      `the config file ${join(dirs.at(-1) as string, "beckon.config.json")} must not hold the secret: set BECKON_SECRET or secretFile instead`,
    );
    const broken = folder();
    writeFileSync(join(broken, "beckon.config.json"), "{ port: 1 }");
    expect(usageError(() => resolveCli(["start"], {}, broken))).toContain("is not valid JSON");
    expect(usageError(() => resolveCli(["start", "--config", "nope.json"], {}, broken))).toBe(
      `the config file ${join(broken, "nope.json")} (from --config) does not exist`,
    );
  });

  it("createServer refuses the same values with the same schema, before it listens", async () => {
    const attempt = (options: Record<string, unknown>) =>
      createServer({ secret: SECRET, logLevel: "silent", ...options });
    await expect(attempt({ heartbeatIntervalMs: 0 })).rejects.toThrow(
      "heartbeatIntervalMs: must be at least 10 (got 0)",
    );
    await expect(attempt({ notReceivedCheckMs: 2_000 })).rejects.toThrow(
      "notReceivedCheckMs: must be at least 3000 (got 2000)",
    );
    await expect(attempt({ callerGraceMs: -5 })).rejects.toThrow(InvalidOptionsError);
    await expect(attempt({ rateLimit: { burst: 5, perSecond: 0 } })).rejects.toThrow(
      "rateLimit.perSecond: must be greater than 0 (got 0)",
    );
    await expect(attempt({ heartbeatMs: 5 })).rejects.toThrow("unknown option(s) heartbeatMs");
    const short = createServer({ secret: "short" });
    await expect(short).rejects.toThrow("secret: must be at least 16 characters");
    // The secret never appears in the message, whatever is wrong with it.
    await expect(short).rejects.not.toThrow("short");
  });
});
