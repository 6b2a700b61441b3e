// The browser entry must not pull in Node-only modules: everything it imports, transitively,
// is our own code or the protocol package (which has no runtime dependencies on that path).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const packages = fileURLToPath(new URL("../../", import.meta.url));

function importsOf(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)) {
    // Type-only imports vanish at build time.
    if (!/^\s*(?:import|export)\s+type\s/.test(match[0].trim())) found.push(match[1] as string);
  }
  for (const match of source.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) found.push(match[1] as string);
  return found;
}

it("packages/sdk/src/index.ts reaches no Node built-in and no npm package but the protocol", () => {
  const start = resolve(packages, "sdk/src/index.ts");
  const seen = new Set<string>();
  const external = new Set<string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of importsOf(file)) {
      if (specifier.startsWith(".")) {
        queue.push(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
      } else if (specifier === "@beckon/protocol") {
        queue.push(resolve(packages, "protocol/src/index.ts"));
      } else {
        external.add(`${specifier} (from ${file.slice(packages.length)})`);
      }
    }
  }
  expect(seen.size).toBeGreaterThan(5);
  expect([...external]).toEqual([]);
});
