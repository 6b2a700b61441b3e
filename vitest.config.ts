// Tests run against the TypeScript sources of every package, so no build is needed first.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));

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
    include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // expect.poll waits for something a browser or server does; 1 s (vitest's default) is too
    // short for a loaded CI machine, where a service worker may take that long to wake.
    expect: { poll: { timeout: 10_000 } },
  },
});
