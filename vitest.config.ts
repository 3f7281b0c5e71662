import { fileURLToPath, URL } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: { '@protocol': fileURLToPath(new URL('./protocol/index.ts', import.meta.url)) },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real media servers and browsers: two cores, so keep files from piling up.
    fileParallelism: false,
    reporters: ['default'],
  },
});
