// Builds dist/ops.mjs once, so CLI tests run the same bundle users run
// (OPS_TEST_NO_BUILD=1 reuses an existing build when iterating), and names this run's lab
// snapshots (test/support/converged.ts): made during the run, removed at its end. Under
// scripts/test-lanes.mjs (OPS_TEST_LAB_RUN set) the lanes share one run, and the script
// builds and removes the snapshots itself.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { removeSnapshots, runSnapshots, staleTestSnapshots, testRunId } from './test-runs.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    labRun: string;
  }
}

const root = fileURLToPath(new URL('../..', import.meta.url));

// Vitest loads and calls the setup once for the run and once per project, in one process: the run
// id, the build and the clean-up are kept on the process so they happen once.
const shared = process.env.OPS_TEST_LAB_RUN;
const state = globalThis as { opsTestRun?: string };
const first = state.opsTestRun === undefined;
const run = (state.opsTestRun ??= shared ?? testRunId());

export default function setup(project: TestProject): (() => void) | undefined {
  project.provide('labRun', run);
  if (!first) return undefined;
  if (process.env.OPS_TEST_NO_BUILD !== '1') execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  if (shared) return undefined;
  removeSnapshots(root, staleTestSnapshots());
  return () => removeSnapshots(root, runSnapshots(run));
}
