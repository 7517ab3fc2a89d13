import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The web console, built into dist/ui by `npm run build` and served by the gatekeeper at
 * /-/gatekeeper/ui/ (src/server/registry/console.ts). Everything is bundled: no CDN, no
 * inline script (the console's Content-Security-Policy allows none).
 */
const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/-/gatekeeper/ui/',
  publicDir: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../../dist/ui', import.meta.url)),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
