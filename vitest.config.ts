import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts', 'test/support/console-build.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // browser tests poll the page; a loaded machine needs more than the 1 s default
    expect: { poll: { timeout: 20_000 } },
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 3,
  },
});
