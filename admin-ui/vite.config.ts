/**
 * Vite build of the admin console (a React SPA) into `admin-ui/dist/`, served under `/admin/` by
 * `admin-ui/plugin.ts`. Build from the repository root:
 *
 *     node --no-node-snapshot ./node_modules/vite/bin/vite.js build --config admin-ui/vite.config.ts
 *
 * For UI work, `vite --config admin-ui/vite.config.ts` serves it with hot reload and forwards `/api`
 * and `/fn` to a running platform (FAAS_URL, default http://127.0.0.1:8080).
 */
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const platformUrl = process.env.FAAS_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: import.meta.dirname,
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // CodeMirror + merge view is the bulk of the bundle; one chunk keeps the first load simple.
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      '/api': platformUrl,
      '/fn': platformUrl,
    },
  },
});
