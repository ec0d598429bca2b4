import { fileURLToPath } from 'node:url';
import UnoCSS from 'unocss/vite';
import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';

const root = fileURLToPath(new URL('.', import.meta.url));

// The dashboard is served by plugins/dashboard from web/dist; /assets/* are content-hashed.
export default defineConfig({
  root,
  base: '/',
  plugins: [UnoCSS({ configFile: `${root}uno.config.ts` }), solid()],
  build: {
    outDir: `${root}dist`,
    emptyOutDir: true,
    target: 'es2022',
    assetsDir: 'assets',
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/run': 'http://127.0.0.1:8080',
    },
  },
});
