// Builds the operator console into apps/console/dist, which the server serves at /console. The
// protocol's enums come from its TypeScript source; `vite` (dev server) proxies the server API.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const packages = (path: string) =>
  fileURLToPath(new URL(`../../packages/${path}`, import.meta.url));
const backend = process.env.BECKON_CONSOLE_BACKEND ?? "http://localhost:4000";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  resolve: {
    alias: [{ find: /^@beckon\/protocol$/, replacement: packages("protocol/src/index.ts") }],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
  },
  server: {
    proxy: { "/api": { target: backend } },
  },
});
