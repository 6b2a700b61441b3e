// Tests run against the TypeScript sources of every package, so no build is needed first.
// Four projects: `unit` (no server process, no database: the everyday loop, `npm run test:unit`),
// `integration` (real servers, SQLite, PostgreSQL, Redis), `browser` (the demo and the console
// in Chromium) and `packaging` (fresh installs, packed tarballs, the docs' commands).
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";
import { SlowFirstSequencer } from "./vitest.sequencer.js";

const src = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));
const server = (names: string[]) => names.map((name) => `packages/server/test/${name}.test.ts`);

const packaging = server([
  "docs-commands",
  "dockerfile",
  "ensure-installed",
  "first-app",
  "pack-install",
  "readme-packages",
  "supported-node-versions",
]);
/** Server tests that start no process and touch no database or Redis, each in about a second. */
const serverUnit = server([
  "configuration-docs",
  "import-graph",
  "memory-presence",
  "memory-rate-limits",
  "memory-stream-broker",
  "metrics-lint",
  "protocol-docs",
]);
const browser = ["apps/*/test/**/*.browser.test.ts"];
/** Fault injection that times rings against their deadlines: run last, alone on the machine. */
const alone = server(["cluster-faults"]);

const project = (
  name: string,
  include: string[],
  exclude: string[] = [],
  testTimeout?: number,
): TestProjectInlineConfiguration => ({
  extends: true,
  test: { name, include, exclude, ...(testTimeout ? { testTimeout } : {}) },
});

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@beckon\/protocol\/schemas$/, replacement: src("protocol/src/schemas.ts") },
      { find: /^@beckon\/protocol$/, replacement: src("protocol/src/index.ts") },
      { find: /^@beckon\/engine$/, replacement: src("engine/src/index.ts") },
      { find: /^@beckon\/server$/, replacement: src("server/src/index.ts") },
      { find: /^@beckon\/sdk$/, replacement: src("sdk/src/node.ts") },
    ],
  },
  test: {
    projects: [
      // The engine's property tests run 300 random scenarios per test on the CPU, which takes
      // longer than 30 s when a second worker shares a 2-core machine with them.
      project(
        "unit",
        [
          "packages/engine/test/**/*.test.ts",
          "packages/protocol/test/**/*.test.ts",
          "packages/sdk/test/**/*.test.ts",
          ...serverUnit,
        ],
        [],
        90_000,
      ),
      project(
        "integration",
        ["packages/server/test/**/*.test.ts"],
        [...serverUnit, ...packaging, ...browser, ...alone],
      ),
      // Part of the integration tests; a project of its own only so that it runs after the rest
      // with no other file beside it (sequence.groupOrder, one worker).
      {
        extends: true,
        test: {
          name: "integration-alone",
          include: alone,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
      project("browser", browser),
      project("packaging", packaging),
    ],
    // One file per core, and two on a 2-core machine, where vitest's default (cores less one)
    // would run every file one after the other; most files spend their time waiting on sockets,
    // child processes and databases. BECKON_TEST_WORKERS overrides it.
    maxWorkers: Number(process.env.BECKON_TEST_WORKERS) || Math.max(2, availableParallelism()),
    sequence: { sequencer: SlowFirstSequencer },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // expect.poll waits for something a browser or server does; 1 s (vitest's default) is too
    // short for a loaded CI machine, where a service worker may take that long to wake.
    expect: { poll: { timeout: 10_000 } },
  },
});
