import { defineConfig } from 'vitest/config';

// Type-level tests (test/types/*.test-d.ts) are checked by `npm run typecheck` (tsc), which fails on
// any unused @ts-expect-error, so vitest does not run tsc a second time.
// Three tiers. `unit` is fast and self-contained; `integration` talks to real services
// (Docker, Git, Kubernetes) that .ci/run starts; `conformance` spawns IARNet itself under
// Node 20, Node 24, Bun and Deno. In CI (CI=true) a missing service or runtime fails the run.
export default defineConfig({
  test: {
    projects: [
      // The dashboard's component tests (jsdom) and the browser end-to-end tests keep their own configs.
      'web/vitest.config.ts',
      'test/e2e/vitest.config.ts',
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'core/**/*.test.ts',
            'plugins/**/*.test.ts',
            'examples/**/*.test.ts',
            'test/unit/**/*.test.ts',
          ],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'conformance',
          include: ['test/conformance/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
