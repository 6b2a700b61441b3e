// The naming rules `promtool check metrics` applies, over the text exposition format. promtool is
// a Go binary; its rules live in prometheus/client_golang, prometheus/testutil/promlint
// (validations/*.go: lintHelp, lintMetricUnits, lintCounter, lintHistogramSummaryReserved,
// lintMetricTypeInName, lintReservedChars, lintCamelCase, lintUnitAbbreviations), with the
// same messages, so a finding reads as promtool would print it.

export interface MetricFamily {
  name: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  help?: string;
  labelNames: Set<string>;
}

export interface LintProblem {
  metric: string;
  text: string;
}

const units: Record<string, string> = {
  amperes: "amperes",
  bytes: "bytes",
  celsius: "celsius",
  grams: "grams",
  joules: "joules",
  kelvin: "kelvin",
  meters: "meters",
  metres: "metres",
  seconds: "seconds",
  volts: "volts",
  minutes: "seconds",
  hours: "seconds",
  days: "seconds",
  weeks: "seconds",
  kelvins: "kelvin",
  fahrenheit: "celsius",
  rankine: "celsius",
  inches: "meters",
  yards: "meters",
  miles: "meters",
  bits: "bytes",
  calories: "joules",
  pounds: "grams",
  ounces: "grams",
};
const unitPrefixes = [
  "pico",
  "nano",
  "micro",
  "milli",
  "centi",
  "deci",
  "deca",
  "hecto",
  "kilo",
  "kibi",
  "mega",
  "mibi",
  "giga",
  "gibi",
  "tera",
  "tebi",
  "peta",
  "pebi",
];
const unitAbbreviations = [
  "s",
  "ms",
  "us",
  "ns",
  "sec",
  "b",
  "kb",
  "mb",
  "gb",
  "tb",
  "pb",
  "m",
  "h",
  "d",
];
const typeNames = ["counter", "gauge", "summary", "histogram", "gauge_histogram"];
const camelCase = /[a-z][A-Z]/;

/** The label names of one sample line's `{…}`, honouring escaped quotes in values. */
function labelNamesOf(sample: string): string[] {
  const open = sample.indexOf("{");
  if (open < 0) return [];
  const names: string[] = [];
  let i = open + 1;
  while (i < sample.length && sample[i] !== "}") {
    const eq = sample.indexOf("=", i);
    names.push(sample.slice(i, eq).trim());
    i = eq + 2; // past `="`
    while (i < sample.length && sample[i] !== '"') i += sample[i] === "\\" ? 2 : 1;
    i += 1; // past the closing quote
    if (sample[i] === ",") i += 1;
  }
  return names;
}

/** The families of a text exposition, with every label name their samples use. */
export function parseExposition(text: string): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  const family = (name: string) => {
    let found = families.get(name);
    if (!found) {
      found = { name, type: "untyped", labelNames: new Set() };
      families.set(name, found);
    }
    return found;
  };
  for (const line of text.split("\n")) {
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name = "", rest = ""] = meta;
      if (kind === "HELP") family(name).help = rest;
      else family(name).type = rest as MetricFamily["type"];
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const sampleName = /^[^{\s]+/.exec(line)?.[0] ?? "";
    // A histogram's or summary's samples carry suffixes of their family's name.
    const owner =
      [sampleName, sampleName.replace(/_(bucket|sum|count)$/, "")].find((name) =>
        families.has(name),
      ) ?? sampleName;
    for (const label of labelNamesOf(line)) family(owner).labelNames.add(label);
  }
  return [...families.values()];
}

function metricUnit(name: string): [unit: string, base: string] | undefined {
  for (const part of name.split("_")) {
    for (const prefix of [...unitPrefixes, ""]) {
      if (part.startsWith(prefix)) {
        const base = units[part.slice(prefix.length)];
        if (base) return [part, base];
      }
    }
  }
  return undefined;
}

export function lintFamily(mf: MetricFamily): LintProblem[] {
  const texts: string[] = [];
  const { name, type } = mf;
  const lower = name.toLowerCase();
  if (mf.help === undefined) texts.push("no help text");
  const unit = metricUnit(name);
  if (unit && unit[0] !== unit[1]) texts.push(`use base unit "${unit[1]}" instead of "${unit[0]}"`);
  const total = name.endsWith("_total");
  if (type === "counter" && !total) texts.push('counter metrics should have "_total" suffix');
  if (type !== "untyped" && type !== "counter" && total) {
    texts.push('non-counter metrics should not have "_total" suffix');
  }
  if (type !== "untyped") {
    const histogram = type === "histogram";
    const summary = type === "summary";
    if (!histogram && name.endsWith("_bucket")) {
      texts.push('non-histogram metrics should not have "_bucket" suffix');
    }
    if (!histogram && !summary && name.endsWith("_count")) {
      texts.push('non-histogram and non-summary metrics should not have "_count" suffix');
    }
    if (!histogram && !summary && name.endsWith("_sum")) {
      texts.push('non-histogram and non-summary metrics should not have "_sum" suffix');
    }
    if (!histogram && mf.labelNames.has("le")) {
      texts.push('non-histogram metrics should not have "le" label');
    }
    if (!summary && mf.labelNames.has("quantile")) {
      texts.push('non-summary metrics should not have "quantile" label');
    }
  }
  for (const typeName of typeNames) {
    if (lower.includes(`_${typeName}_`) || lower.endsWith(`_${typeName}`)) {
      texts.push(`metric name should not include type '${typeName}'`);
    }
  }
  if (name.includes(":")) texts.push("metric names should not contain ':'");
  if (camelCase.test(name)) {
    texts.push("metric names should be written in 'snake_case' not 'camelCase'");
  }
  for (const label of mf.labelNames) {
    if (camelCase.test(label)) {
      texts.push("label names should be written in 'snake_case' not 'camelCase'");
    }
  }
  for (const abbreviation of unitAbbreviations) {
    if (lower.includes(`_${abbreviation}_`) || lower.endsWith(`_${abbreviation}`)) {
      texts.push("metric names should not contain abbreviated units");
    }
  }
  return texts.map((text) => ({ metric: name, text }));
}

/** Every finding of `promtool check metrics` on a text exposition, sorted as promlint sorts. */
export function lintExposition(text: string): LintProblem[] {
  return parseExposition(text)
    .flatMap(lintFamily)
    .sort((a, b) =>
      a.metric === b.metric ? a.text.localeCompare(b.text) : a.metric.localeCompare(b.metric),
    );
}
