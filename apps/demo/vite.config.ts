// Builds the demo page into apps/demo/dist, which `beckon start` serves at `/`. The SDK and the
// protocol come from their TypeScript sources (the SDK's browser entry), so no package build
// is needed first; `vite` (dev server) proxies the WebSocket, the token endpoint and the server
// API to a local node.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const packages = (path: string) =>
  fileURLToPath(new URL(`../../packages/${path}`, import.meta.url));
const backend = process.env.BECKON_DEMO_BACKEND ?? "http://localhost:4000";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  resolve: {
    alias: [
      { find: /^@beckon\/sdk$/, replacement: packages("sdk/src/index.ts") },
      { find: /^@beckon\/protocol$/, replacement: packages("protocol/src/index.ts") },
    ],
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
  },
  server: {
    proxy: {
      "/ws": { target: backend, ws: true },
      "/dev": { target: backend },
      // The Web Push key and the page's own push registration.
      "/api": { target: backend },
    },
  },
});
