import { fileURLToPath } from 'node:url';
import solid from 'vite-plugin-solid';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// Component tests: jsdom + @solidjs/testing-library, the API mocked with msw.
export default defineConfig({
  root,
  plugins: [solid()],
  resolve: { conditions: ['development', 'browser'] },
  test: {
    name: 'web',
    environment: 'jsdom',
    include: ['src/**/*.test.tsx'],
    setupFiles: ['src/test/setup.ts'],
  },
});
