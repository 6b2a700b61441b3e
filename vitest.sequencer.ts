// Starts the longest test files first, so that the whole run is not left waiting on one of them
// at the end. Vitest orders by the durations it cached in a previous run, which a fresh clone
// (CI) does not have; these files are the long ones on a 2-core machine.
import { BaseSequencer, type TestSpecification } from "vitest/node";

const LONGEST_FIRST = [
  "packages/server/test/docs-commands.test.ts",
  "packages/server/test/dockerfile.test.ts",
  "apps/demo/test/demo.browser.test.ts",
  "packages/server/test/pack-install.test.ts",
  "packages/server/test/first-app.test.ts",
  "apps/demo/test/demo-polish.browser.test.ts",
  "apps/console/test/console.browser.test.ts",
  "apps/demo/test/demo-push.browser.test.ts",
  "apps/console/test/console-cluster.browser.test.ts",
  "packages/server/test/postgres-call-store.test.ts",
  "packages/engine/test/invariants.property.test.ts",
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const index = LONGEST_FIRST.findIndex((file) => spec.moduleId.endsWith(file));
      return index < 0 ? LONGEST_FIRST.length : index;
    };
    // Array.prototype.sort is stable: the rest keep vitest's order.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
