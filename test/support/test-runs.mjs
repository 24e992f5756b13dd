// Names of test runs and their lab snapshots, shared by test/support/global-setup.ts and
// scripts/test-lanes.mjs: a run is `<pid in base 36>x<random>`, its snapshots `t-<run>-<kind>`.
// A snapshot is stale when the process that made its run is gone (a run killed before its clean-up).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';

export const SNAPSHOTS = '/var/cache/ops-lab/snapshots';

export function testRunId() {
  return `${process.pid.toString(36)}x${randomBytes(3).toString('hex')}`;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function names() {
  try {
    return readdirSync(SNAPSHOTS);
  } catch {
    return [];
  }
}

/** This run's snapshots. */
export function runSnapshots(run) {
  return names().filter((n) => n.startsWith(`t-${run}-`));
}

/** Snapshots of test runs whose process has ended. */
export function staleTestSnapshots() {
  return names().filter((n) => {
    const m = /^t-([0-9a-z]+)x[0-9a-f]+-/.exec(n);
    return m !== null && !alive(parseInt(m[1], 36));
  });
}

/** Removes snapshots through the ops CLI (`root`: the checkout); one a lab host still uses is left, and named. */
export function removeSnapshots(root, list) {
  for (const name of list) {
    try {
      execFileSync(process.execPath, ['dist/ops.mjs', 'lab', 'snapshot', 'rm', name], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      process.stderr.write(`test snapshot ${name} left in place: ${String(e.stderr ?? e).trim()}\n`);
    }
  }
}
