// Vite config: the playground build (root playground/) and the vitest configuration for the repo.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const repo = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('./playground', import.meta.url)),
  // The playground imports fete by its package name, as an app would; here that is the sources.
  resolve: {
    alias: {
      'fete/client': fileURLToPath(new URL('./client/index.ts', import.meta.url)),
      'fete/shared': fileURLToPath(new URL('./shared/index.ts', import.meta.url)),
      // Tests of examples/ import the server by its package name too.
      'fete/server': fileURLToPath(new URL('./server/index.ts', import.meta.url)),
    },
  },
  build: { outDir: '../dist/playground', emptyOutDir: true },
  test: {
    root: repo,
    include: ['shared/**/*.test.ts', 'server/**/*.test.ts', 'client/**/*.test.ts', 'test/**/*.test.ts'],
    typecheck: { enabled: true, ignoreSourceErrors: true, include: ['test/types/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
