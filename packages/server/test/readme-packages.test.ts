// README's "What is here" table names every workspace of the repository, so a new package or
// app cannot arrive without a line saying what it is.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const root = new URL("../../../", import.meta.url);

it("README's package table lists exactly the workspaces", () => {
  const { workspaces } = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as {
    workspaces: string[];
  };
  const readme = readFileSync(fileURLToPath(new URL("README.md", root)), "utf8");
  const listed = [...readme.matchAll(/^\| `([\w/-]+)` +\|/gm)].map((match) => match[1]);
  expect(listed.sort()).toEqual([...workspaces].sort());
});
