import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/globalSetup.ts'],
    // Real brokers, stores and processes: give them time, run files in parallel processes.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time. vitest's default is one fewer than the cores, which on the
    // 2-core CI machine ran every file in one process: most files wait on sockets, timers,
    // child processes and Chromium, not CPU. Measured on the full suite (under load from
    // other work): 1 worker 7 min 38 s; 2 workers 6 min 13 s; 3 workers 5 min 48 s.
    maxWorkers: 2,
    reporters: ['default', './test/summaryReporter.ts'],
  },
});
