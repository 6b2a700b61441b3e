// The operation names the protocol fuzz walks through.
import { requestSchemas } from "@beckon/protocol/schemas";

export const OPERATION_NAMES_FOR_FUZZ = Object.keys(requestSchemas) as Array<
  keyof typeof requestSchemas
>;
export const isOperationNameForFuzz = (op: string): boolean => Object.hasOwn(requestSchemas, op);
