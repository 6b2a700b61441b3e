// docs/protocol.md's operation table is where other SDKs' authors learn the wire; this pins it to
// the request schemas every frame is checked against, so an operation or a field cannot be added
// to one and not the other.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { requestSchemas } from "@beckon/protocol/schemas";
import { expect, it } from "vitest";

const page = fileURLToPath(new URL("../../../docs/protocol.md", import.meta.url));

/** The table's rows as [ops, top-level fields of `data`], e.g. ["callAccept", "callID", "extendedData?"]. */
function operationRows(markdown: string): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of markdown.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    // | `op` [/ `op`] | `{data}` | result |
    if (cells.length < 4 || !/^`\w+`( \/ `\w+`)*$/.test(cells[1] ?? "")) continue;
    const ops = [...(cells[1] ?? "").matchAll(/`(\w+)`/g)].map((match) => match[1] ?? "");
    const data = /^`\{(.*)\}`/.exec(cells[2] ?? "")?.[1] ?? "";
    for (const op of ops) rows.set(op, topLevelFields(data));
  }
  return rows;
}

/** `a, b?: {c, d}, e: 1` → ["a", "b?", "e"]: names at brace depth 0. */
function topLevelFields(data: string): string[] {
  const fields: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of `${data},`) {
    if (char === "{") depth++;
    if (char === "}") depth--;
    if (char === "," && depth === 0) {
      const name = /^\s*(\w+\??)/.exec(current)?.[1];
      if (name) fields.push(name);
      current = "";
      continue;
    }
    current += char;
  }
  return fields.sort();
}

it("docs/protocol.md lists every operation with the fields its schema accepts", () => {
  const documented = operationRows(readFileSync(page, "utf8"));
  const expected = new Map<string, string[]>();
  for (const [op, schema] of Object.entries(requestSchemas)) {
    const fields = Object.entries(schema.shape).map(([name, field]) =>
      field.safeParse(undefined).success ? `${name}?` : name,
    );
    expected.set(op, fields.sort());
  }
  expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(expected));
});
