import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'local',
          include: ['test/unit/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/interop/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          // Real hosts on this machine: one file at a time, generous timeouts.
          name: 'hosts',
          include: ['test/lab/**/*.test.ts', 'test/hosts/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 900_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
