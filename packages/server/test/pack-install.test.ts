// The packages as a stranger gets them: `npm pack` the four workspaces, install the tarballs into
// an empty project outside the repository, and run a "ring and accept" script there as an ES
// module and as CommonJS, after a strict `tsc` check of its TypeScript source.
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
import {
  installEnv,
  publishedPackages as packages,
  packWorkspaces,
  repoRoot as root,
  run,
  runWithWarnings,
} from "./support/packages.js";

const fixtures = fileURLToPath(new URL("./fixtures/consumer/", import.meta.url));
let work = "";
let project = "";
let installWarnings = "";

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "beckon-pack-"));
  project = join(work, "app");
  mkdirSync(project);
  // prepack builds each package, so this also checks that a pack starts from a fresh build.
  const tarballs = packWorkspaces(join(work, "packs"));
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "app", private: true, version: "1.0.0" }),
  );
  for (const file of readdirSync(fixtures)) copyFileSync(join(fixtures, file), join(project, file));
  installWarnings = runWithWarnings(
    "npm",
    ["install", ...tarballs, "@types/node@^20.19"],
    project,
    installEnv(join(work, "prebuilds")),
  ).stderr;
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("installed from tarballs into an empty project", () => {
  it("installs with no engine warning on this Node.js (root overrides do not travel with a package)", () => {
    expect(installWarnings).not.toMatch(/EBADENGINE/);
  });

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
    expect(run(process.execPath, ["out/ring-and-accept.mjs"], project, process.env, 60_000)).toBe(
      "rang and accepted the call\n",
    );
  }, 180_000);

  it("a CommonJS script require()s the packages and rings", () => {
    expect(run(process.execPath, ["ring-and-accept.cjs"], project, process.env, 60_000)).toBe(
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
