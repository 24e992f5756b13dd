import { defineConfig } from 'vitest/config';
import { BESIDE_DEMO, DEMO } from './test/support/converged-kinds.js';
import HostsFirstProducers from './test/support/sequencer.js';

/** Real hosts on this machine: each file boots a lab of its own; files of one lane run one at a time. */
const hostLane = { fileParallelism: false, testTimeout: 900_000, hookTimeout: 900_000 };

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/timings-reporter.ts'],
    sequence: { sequencer: HostsFirstProducers },
    projects: [
      {
        extends: true,
        test: {
          // No lab: unit, CLI and GnuPG interop tests. `npm test` runs them first and stops if they fail.
          name: 'local',
          include: ['test/unit/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/interop/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        // The files that boot from the demo snapshot (the first of them converges it from bare hosts),
        // then a few with labs of their own, to even out the lanes.
        extends: true,
        test: { name: 'hosts-demo', include: [...DEMO.lane, ...BESIDE_DEMO], ...hostLane },
      },
      {
        // Every other host test: bare hosts, or environments of their own. Runs beside the demo lane.
        extends: true,
        test: { name: 'hosts', include: ['test/lab/**/*.test.ts', 'test/hosts/**/*.test.ts'], exclude: [...DEMO.lane, ...BESIDE_DEMO], ...hostLane },
      },
    ],
  },
});
