// The packages as a stranger gets them: `npm pack` the four workspaces, install the tarballs into
// an empty project outside the repository, and run a "ring and accept" script there as an ES
// module and as CommonJS, after a strict `tsc` check of its TypeScript source.
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixtures = fileURLToPath(new URL("./fixtures/consumer/", import.meta.url));
const packages = ["protocol", "engine", "server", "sdk"];
let work = "";
let project = "";

function run(command: string, args: string[], cwd: string, timeout = 180_000) {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", timeout });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "beckon-pack-"));
  const packs = join(work, "packs");
  project = join(work, "app");
  mkdirSync(packs);
  mkdirSync(project);
  // prepack builds each package, so this also checks that a pack starts from a fresh build.
  run(
    "npm",
    [
      "pack",
      "--silent",
      "--pack-destination",
      packs,
      ...packages.flatMap((p) => ["-w", `packages/${p}`]),
    ],
    root,
  );
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "app", private: true, version: "1.0.0" }),
  );
  for (const file of readdirSync(fixtures)) copyFileSync(join(fixtures, file), join(project, file));
  const tarballs = readdirSync(packs).map((file) => join(packs, file));
  // --ignore-scripts and a copy of the repository's compiled SQLite addon: where no prebuilt
  // binary can be downloaded, better-sqlite3 compiles from source for minutes. Its build is not
  // what this test is about; everything else is installed as a user would get it.
  run(
    "npm",
    [
      "install",
      "--prefer-offline",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      ...tarballs,
      "@types/node@^20.19",
    ],
    project,
  );
  const addon = join("better-sqlite3", "build", "Release");
  mkdirSync(join(project, "node_modules", addon), { recursive: true });
  copyFileSync(
    join(root, "node_modules", addon, "better_sqlite3.node"),
    join(project, "node_modules", addon, "better_sqlite3.node"),
  );
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("installed from tarballs into an empty project", () => {
  it("each package ships README, LICENSE, types, main, exports and engines, and no workspace links", () => {
    for (const name of packages) {
      const dir = join(project, "node_modules", "@beckon", name);
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<
        string,
        unknown
      >;
      expect(readdirSync(dir)).toEqual(
        expect.arrayContaining(["README.md", "LICENSE", "dist", "package.json"]),
      );
      expect(manifest).toMatchObject({
        version: "0.1.0",
        license: "MIT",
        engines: { node: ">=20.19" },
      });
      expect(typeof manifest.main).toBe("string");
      expect(typeof manifest.types).toBe("string");
      expect(manifest.exports).toBeTypeOf("object");
      expect(JSON.stringify(manifest.dependencies ?? {})).not.toMatch(/workspace:|file:|link:/);
      expect(readdirSync(join(dir, "dist")).some((file) => file.endsWith(".tsbuildinfo"))).toBe(
        false,
      );
    }
  });

  it("the TypeScript script passes a strict tsc (ESM and CommonJS modules), and runs", () => {
    run(
      process.execPath,
      [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."],
      project,
    );
    expect(run(process.execPath, ["out/ring-and-accept.mjs"], project, 60_000)).toBe(
      "rang and accepted the call\n",
    );
  }, 180_000);

  it("a CommonJS script require()s the packages and rings", () => {
    expect(run(process.execPath, ["ring-and-accept.cjs"], project, 60_000)).toBe(
      "rang and accepted the call\n",
    );
  }, 60_000);

  it("the beckon command is installed", () => {
    expect(run(join(project, "node_modules", ".bin", "beckon"), ["--version"], project)).toBe(
      "0.1.0\n",
    );
    expect(run(join(project, "node_modules", ".bin", "beckon"), ["--help"], project)).toContain(
      "beckon start",
    );
  });
});
