// Node.js 20.19+, 22.13+ and 24 are supported: every package the lockfile installs must accept
// the oldest release of each, or `npm ci` prints EBADENGINE warnings there (and the package
// may use what that release lacks).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import semver from "semver";
import { expect, it } from "vitest";
import { repoRoot } from "./support/packages.js";

interface LockedPackage {
  engines?: { node?: string } | string[];
  optional?: boolean;
}

const readJson = (file: string) => JSON.parse(readFileSync(join(repoRoot, file), "utf8"));
const oldest = ["20.19.0", "22.13.0", "24.0.0"];

it("the project's engines admit exactly the supported releases", () => {
  const range = (readJson("package.json") as { engines: { node: string } }).engines.node;
  for (const version of oldest) expect(semver.satisfies(version, range), version).toBe(true);
  for (const version of ["20.18.0", "21.7.0", "22.12.0", "23.11.0"]) {
    expect(semver.satisfies(version, range), version).toBe(false);
  }
});

it("every package the lockfile installs runs on the oldest supported release of each major", () => {
  const lock = readJson("package-lock.json") as { packages: Record<string, LockedPackage> };
  const refused: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Optional packages for other platforms are skipped by npm without a warning.
    const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
    if (!range || entry.optional) continue;
    for (const version of oldest) {
      if (!semver.satisfies(version, range))
        refused.push(`${path} wants node ${range}, not ${version}`);
    }
  }
  expect(refused).toEqual([]);
});
