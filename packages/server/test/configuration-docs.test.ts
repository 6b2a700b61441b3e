// docs/configuration.md lists every option with its default, range, flag and variable; this
// compares its table with the option schema so the page cannot go stale.
// After changing an option: UPDATE_DOCS=1 npx vitest run packages/server/test/configuration-docs.test.ts
// and then npm run format.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { describeOptions } from "../src/server-options.js";
import { optionsTable } from "./support/options-table.js";

const page = fileURLToPath(new URL("../../../docs/configuration.md", import.meta.url));
const START = "<!-- options:start (generated from the option schema; see the test) -->";
const END = "<!-- options:end -->";

/** The table's rows as trimmed cells: Biome pads markdown tables, which changes no content. */
function rows(markdown: string): string[] {
  return markdown
    .split("\n")
    .filter((line) => line.startsWith("|") && !/^\|[\s\-|]+\|$/.test(line))
    .map((line) =>
      line
        .slice(1, -1)
        .split(" | ")
        .map((cell) => cell.trim())
        .join(" | "),
    );
}

it("docs/configuration.md's option table matches the option schema", () => {
  const text = readFileSync(page, "utf8");
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  expect(from, "the table markers are missing").toBeGreaterThanOrEqual(0);
  expect(to).toBeGreaterThan(from);
  const expected = `${START}\n\n${optionsTable()}\n\n`;
  if (process.env.UPDATE_DOCS === "1") {
    writeFileSync(page, text.slice(0, from) + expected + text.slice(to));
    return;
  }
  expect(rows(text.slice(from, to))).toEqual(rows(expected));
});

it("every option has a description, and every CLI option a flag and variable in the table", () => {
  const text = readFileSync(page, "utf8");
  for (const row of describeOptions()) {
    expect(row.description, row.key).not.toBe("");
    if (row.cli) {
      expect(text).toContain(`\`${row.flag}\``);
      expect(text).toContain(`\`${row.env}\``);
    }
  }
});
