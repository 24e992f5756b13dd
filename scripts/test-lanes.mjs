#!/usr/bin/env node
// Runs the host tests in lanes side by side: one Vitest process per lane (a Vitest project whose files
// run one at a time), so the lab of one lane's file runs beside the lab of another's. Each line of a
// lane's output is prefixed with its name; the exit code is the first failing lane's. The bundle is built
// once here, and this run's lab snapshots (test/support/converged.ts) are removed at the end, together
// with any that an earlier run, killed before its clean-up, left behind.
//   node scripts/test-lanes.mjs hosts-demo hosts
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { removeSnapshots, runSnapshots, staleTestSnapshots, testRunId } from '../test/support/test-runs.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const lanes = process.argv.slice(2);
if (lanes.length === 0) {
  process.stderr.write('usage: node scripts/test-lanes.mjs LANE… (Vitest project names)\n');
  process.exit(2);
}
const run = testRunId();

function clock(ms) {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
}

execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
removeSnapshots(root, staleTestSnapshots());
const started = Date.now();
const width = Math.max(...lanes.map((l) => l.length));
const results = await Promise.all(
  lanes.map(
    (lane) =>
      new Promise((resolve) => {
        const t0 = Date.now();
        const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--project', lane], {
          cwd: root,
          env: { ...process.env, OPS_TEST_NO_BUILD: '1', OPS_TEST_LAB_RUN: run },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const tag = `[${lane.padEnd(width)}] `;
        for (const stream of [child.stdout, child.stderr]) {
          createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${tag}${line}\n`));
        }
        child.on('close', (code, signal) => resolve({ lane, code: code ?? (signal ? 1 : 0), ms: Date.now() - t0 }));
      }),
  ),
);
removeSnapshots(root, runSnapshots(run));
process.stdout.write(`\nHost test lanes (side by side): ${results.map((r) => `${r.lane} ${clock(r.ms)}${r.code === 0 ? '' : ' FAILED'}`).join(', ')}; wall ${clock(Date.now() - started)}\n`);
process.exit(results.find((r) => r.code !== 0)?.code ?? 0);
