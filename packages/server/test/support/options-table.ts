// Renders the option table of docs/configuration.md from the option schema.
import { cliOptionRows } from "../../src/cli-options.js";
import { describeOptions, type OptionDescription } from "../../src/server-options.js";

const code = (text: string) => `\`${text}\``;

function shown(value: unknown): string {
  if (value === undefined) return "—";
  return code(typeof value === "string" ? value : JSON.stringify(value));
}

function range(row: OptionDescription): string {
  if (row.choices) return row.choices.map(code).join(", ");
  if (row.type === "boolean") return "true, false";
  if (row.min === undefined && row.max === undefined) return "";
  if (row.min === 0 && row.max === undefined && row.type === "number") return "> 0";
  if (row.max === undefined) return `≥ ${row.min}`;
  return `${row.min ?? ""}–${row.max ?? ""}`;
}

function line(row: OptionDescription, key: string, cliRow?: OptionDescription): string {
  const defaults =
    row.cliDefault !== row.default
      ? `${shown(row.default)} (CLI: ${shown(row.cliDefault)})`
      : shown(row.default);
  // `store` and `redis` are set by the CLI's own flags (with its own rules) where the server
  // takes them from code: the row shows both.
  const flagged = cliRow ?? (row.cli ? row : undefined);
  const cells = [
    key,
    flagged ? code(flagged.flag) : "—",
    flagged ? code(flagged.env) : "—",
    defaults,
    range(row),
    cliRow ? `${row.description}; CLI: ${cliRow.description}` : row.description,
  ];
  return `| ${cells.join(" | ")} |`;
}

export function optionsTable(): string {
  const header = [
    "| option | flag | variable | default | range | meaning |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  const cliRows = cliOptionRows();
  const server = describeOptions().map((row) =>
    line(row, code(row.key), row.cli ? undefined : cliRows.find((other) => other.key === row.key)),
  );
  const cliOnly = cliRows
    .filter((row) => !describeOptions().some((other) => other.key === row.key))
    .map((row) => line(row, `${code(row.key)} (CLI only)`));
  return [...header, ...server, ...cliOnly].join("\n");
}
