// Which way imports may point (checked by packages/server/test/import-graph.test.ts and
// `npx depcruise packages apps --config .dependency-cruiser.cjs`). Arrows point down: the
// composition root builds a node from services; services never reach up into it or into the
// transports; the engine and the protocol know nothing of I/O.
/** A server file that builds nodes or parses the command line: free to import anything. */
const compositionRoot = "^packages/server/src/(cli[^/]*|create-server|node-services|index)\\.ts$";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import circle: the files cannot be read, tested or loaded one before the other.",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-arrow-up-to-composition-root",
      severity: "error",
      comment:
        "Only the composition root wires services together; a service reaching into it is an arrow back up.",
      from: { path: "^packages/server/src/", pathNot: compositionRoot },
      to: { path: compositionRoot },
    },
    {
      name: "services-below-transports",
      severity: "error",
      comment:
        "Stores, streams, presence, timers, rate limits, and hooks are used by the transports, never the other way round.",
      from: {
        path: "^packages/server/src/(store|sqlite|presence|streams|timers|rate-limits|hooks|push|webhooks|timeline)/",
      },
      to: { path: "^packages/server/src/(gateway|http|api/[^/]*(plugin|routes)[^/]*)" },
    },
    {
      name: "engine-and-protocol-are-pure",
      severity: "error",
      comment:
        "The engine decides with time as an argument; it and the protocol do no I/O and know no adapter.",
      from: { path: "^packages/(engine|protocol)/src/" },
      to: {
        pathNot: "^packages/(engine|protocol)/src/|^node_modules/zod/",
      },
    },
    {
      name: "sdk-knows-no-server",
      severity: "error",
      from: { path: "^packages/sdk/src/" },
      to: { path: "^packages/(server|engine)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|test)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.test.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "types", "default"],
    },
  },
};
