/**
 * Builds the dashboards (Preact + uPlot) into `dashboards/dist`, which the hub
 * serves at `/` (server/api/routes/ui.ts). JSX goes through Vite 8's built-in
 * Oxc transform with Preact's automatic runtime, so no framework plugin is needed.
 */
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('./web'),
  base: '/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 300,
  },
  server: {
    // `npx vite --config dashboards/vite.config.ts` against a hub on :8080.
    proxy: { '/api': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
