// The Beckon wire protocol: enums, error codes, limits, payload and frame types.
export * from "./call-timeline.js";
export * from "./call-types.js";
export * from "./enums.js";
export * from "./errors.js";
export * from "./frames.js";
export * from "./limits.js";
