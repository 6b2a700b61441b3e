// The demo's hyperscript helper, shared rather than copied: text always goes in as text nodes
// (never HTML), so IDs from the server cannot inject markup.
export * from "../../demo/src/element-builder.js";
