import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One native thread pool per process; files run one after another so kernels get the cores.
    fileParallelism: false,
    testTimeout: 60_000,
  },
});
