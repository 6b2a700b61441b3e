// docs/architecture.md walks a ring through the files: every path it names must exist, so a
// move or a rename that forgets the page fails here.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const page = readFileSync(`${root}docs/architecture.md`, "utf8");

it("every repository path docs/architecture.md names exists", () => {
  const paths = [...page.matchAll(/`((?:packages|apps)\/[\w./-]+\.ts)`/g)].map((m) => m[1]);
  expect(paths.length).toBeGreaterThan(20);
  expect(paths.filter((path) => !existsSync(`${root}${path}`))).toEqual([]);
});

it("the server, SDK and demo files it names by their own folder exist", () => {
  const sections: Array<[string, string]> = [
    ["## The server (`packages/server`)", "packages/server/src/"],
    ["## The SDK (`packages/sdk`)", "packages/sdk/src/"],
    ["## The demo (`apps/demo`)", "apps/demo/src/"],
  ];
  const missing: string[] = [];
  for (const [heading, folder] of sections) {
    const from = page.indexOf(heading);
    expect(from, heading).toBeGreaterThanOrEqual(0);
    const next = page.indexOf("\n## ", from + heading.length);
    const text = page.slice(from, next < 0 ? undefined : next);
    for (const [, file] of text.matchAll(/`([\w./-]+\.ts)`/g)) {
      if (!file || file.startsWith("packages/") || file.startsWith("apps/")) continue;
      // `test/…` names a package's tests, beside its `src/`.
      const path = file.startsWith("test/") ? folder.replace(/src\/$/, file) : folder + file;
      if (!existsSync(root + path)) missing.push(path);
    }
  }
  expect(missing).toEqual([]);
});
