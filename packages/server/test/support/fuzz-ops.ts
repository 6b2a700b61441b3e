// The protocol names the fuzz and the authorization matrix walk through.
import { ErrorCode, PROTOCOL_VERSION } from "@beckon/protocol";
import { requestSchemas } from "@beckon/protocol/schemas";

export { ErrorCode, PROTOCOL_VERSION };
export const OPERATION_NAMES_FOR_FUZZ = Object.keys(requestSchemas) as Array<
  keyof typeof requestSchemas
>;
