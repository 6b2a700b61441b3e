// Checks on what the app passes in, so malformed arguments fail fast with ParamsInvalid instead
// of becoming frames the server has to reject (or JSON cannot carry).
import { invalidParams } from "./client-errors.js";

export function requireString(value: unknown, name: string): string {
  if (typeof value !== "string" || value === "")
    throw invalidParams(`${name} must be a non-empty string`);
  return value;
}

export function requireStringList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw invalidParams(`${name} must be an array of strings`);
  }
  return [...value];
}

/** The config object, or {} when the app passed nothing (ZIM tolerates omitted configs). */
export function optionalConfig<T extends object>(value: T | undefined, name: string): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object") throw invalidParams(`${name} must be an object`);
  return value;
}

/** Copies the named fields that are set, so unknown or undefined fields never reach the wire. */
export function pickDefined<T extends object, K extends keyof T>(
  source: Partial<T>,
  keys: readonly K[],
): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) {
    if (source[key] !== undefined) picked[key] = source[key];
  }
  return picked;
}
