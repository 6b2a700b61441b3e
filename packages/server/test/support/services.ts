// The external services cluster tests run against. Locally a missing one skips its tests with a
// clear line on stderr; under CI=true a missing one fails the file, so a green CI run always
// means the cluster tests ran.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, afterEach } from "vitest";

export const postgresUrl =
  process.env.BECKON_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const redisUrl = process.env.BECKON_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

const inCI = process.env.CI === "true";

async function reachable(name: string, url: string, probe: () => Promise<void>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    if (inCI) throw new Error(`${name} at ${url} is required under CI=true but absent: ${why}`);
    process.stderr.write(
      `\n*** SKIPPED: ${name} at ${url} is absent (${why}); its tests did not run. ***\n\n`,
    );
    return false;
  }
}

/** Whether PostgreSQL answers (throws under CI when it does not). */
export function havePostgres(): Promise<boolean> {
  return reachable("PostgreSQL", postgresUrl, async () => {
    const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
    } finally {
      await client.end().catch(() => {});
    }
  });
}

/** Whether Redis answers (throws under CI when it does not). */
export function haveRedis(): Promise<boolean> {
  return reachable("Redis", redisUrl, async () => {
    const redis = new Redis(redisUrl, {
      lazyConnect: true,
      connectTimeout: 2000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    let cause: Error | undefined;
    redis.on("error", (error: Error) => {
      cause = error;
    });
    try {
      await redis.connect().catch((error: Error) => {
        throw cause ?? error;
      });
      await redis.ping();
    } finally {
      redis.disconnect();
    }
  });
}

/** A name no other test run uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

/**
 * Fresh PostgreSQL schemas for one test file: each `create()` names a new one (the store makes
 * it on open), and `dropAll()` removes every one of them.
 */
export function postgresSchemas(): { create(): string; dropAll(): Promise<void> } {
  const made: string[] = [];
  return {
    create() {
      const schema = uniqueName("beckon_test");
      made.push(schema);
      return schema;
    },
    async dropAll() {
      if (made.length === 0) return;
      const client = new pg.Client({ connectionString: postgresUrl });
      await client.connect();
      try {
        for (const schema of made.splice(0))
          await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Deletes every Redis key under `prefix`. */
export async function dropRedisKeys(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

export interface ClusterServices {
  /** PostgreSQL and Redis both answer (CI fails instead of skipping when they do not). */
  available: boolean;
  /** A fresh schema, dropped after the file's tests. */
  schema(): string;
  /** A fresh Redis key prefix, whose keys are dropped after the file's tests. */
  prefix(): string;
  /** Run after each test, last added first: nodes, proxies, receivers. */
  cleanups: Array<() => Promise<void> | void>;
}

/**
 * What a cluster test file needs of PostgreSQL and Redis, cleaned up for it. Call it at the top
 * level of the file, after `useWorld()` where the file has one, so its cleanups run before the
 * world's devices are closed.
 */
export async function useClusterServices(): Promise<ClusterServices> {
  const available = (await havePostgres()) && (await haveRedis());
  const schemas = postgresSchemas();
  const prefixes: string[] = [];
  const cleanups: ClusterServices["cleanups"] = [];
  afterAll(async () => {
    if (!available) return;
    await schemas.dropAll();
    for (const prefix of prefixes) await dropRedisKeys(prefix);
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    available,
    schema: () => schemas.create(),
    prefix() {
      const prefix = `${uniqueName("beckon-test")}:`;
      prefixes.push(prefix);
      return prefix;
    },
    cleanups,
  };
}
