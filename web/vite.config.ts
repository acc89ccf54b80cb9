import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/**
 * The web UI, built into `web/dist`, which `baton server` serves at `/` (src/server/web-ui.ts).
 * `npm run dev:web`-style serving is not needed: build, then run `baton server`.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    // The graph page's chunk (React Flow + dagre) is loaded lazily; the entry stays small.
    chunkSizeWarningLimit: 400,
  },
});
