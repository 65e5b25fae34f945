/**
 * Vite builds the dashboard from `web/` into `web/dist/` (served by the API; never committed).
 * `npm run dev` proxies API calls to a running HomeIQ on HOMEIQ_PORT (default 8787) for hot reload.
 */
import { defineConfig } from "vite";

const apiPort = process.env.HOMEIQ_PORT || "8787";
const apiTarget = `http://127.0.0.1:${apiPort}`;

export default defineConfig({
  root: import.meta.dirname,
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      "/api": { target: apiTarget, changeOrigin: false },
      "/health": { target: apiTarget, changeOrigin: false },
    },
  },
});
