// The import graph keeps its shape: no circles, and no arrow pointing back up (a service into the
// composition root or a transport, the engine into I/O). The rules are in .dependency-cruiser.cjs.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect, it } from "vitest";

const root = fileURLToPath(new URL("../../..", import.meta.url));

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
  cycle?: { name: string }[];
}

it("no import circle and no arrow back up", async () => {
  const depcruise = fileURLToPath(new URL("node_modules/.bin/depcruise", `file://${root}/`));
  const { stdout } = await promisify(execFile)(
    depcruise,
    ["packages", "apps", "--config", ".dependency-cruiser.cjs", "--output-type", "json"],
    { cwd: root, maxBuffer: 64 * 1024 * 1024 },
  ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }));
  const { summary } = JSON.parse(stdout) as {
    summary: { violations: Violation[]; totalCruised: number };
  };
  // A wrong config or path would cruise nothing and pass; the tree has well over 100 modules.
  expect(summary.totalCruised).toBeGreaterThan(100);
  const described = summary.violations.map(
    (violation) =>
      `${violation.rule.name}: ${violation.from} → ${violation.cycle?.map((step) => step.name).join(" → ") ?? violation.to}`,
  );
  expect(described).toEqual([]);
});
