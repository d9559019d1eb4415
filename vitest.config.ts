import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts', 'test/support/console-build.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // browser tests poll the page; a loaded machine needs more than the 1 s default
    expect: { poll: { timeout: 20_000 } },
    hookTimeout: 120_000,
    // A test that fails is run once more before the run fails: on a loaded 2-core machine the process and
    // cluster tests (kill -9 restarts, 300 app creations, two-instance realtime) time out now and then. Every
    // retry is printed in the report, so a flaky test stays visible; a test that fails twice fails the run.
    retry: 1,
    pool: 'forks',
    maxWorkers: 3,
  },
});
