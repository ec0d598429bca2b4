import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// End-to-end: headless Chromium (playwright-core, /usr/bin/chromium) against a real iarnet process.
// Run alone (vitest run --config test/e2e/vitest.config.ts) or as the root config's 'e2e' project.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    name: 'e2e',
    dir: fileURLToPath(new URL('.', import.meta.url)),
    include: ['**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 240_000,
    fileParallelism: false,
  },
});
