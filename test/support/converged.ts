/**
 * Converged lab environments from snapshots: `convergedLab` boots a kind's hosts from its snapshot of
 * this test run (`ops lab up --from`), or — when no file made it yet — provisions bare hosts,
 * converges them and saves the snapshot for the files after it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect, inject } from 'vitest';
import { SNAPSHOT_DIR } from '../../src/lab/names.js';
import type { LabKind } from './converged-kinds.js';
import { labHosts, provisionLab, type LabHostRow } from './lab.js';
import { ops } from './ops.js';

export { DEMO, type LabKind } from './converged-kinds.js';

/** This run's snapshot of the kind (named as test/support/test-runs.mjs says; removed at the run's end). */
export function snapshotOf(kind: LabKind): string {
  return `t-${inject('labRun')}-${kind.name}`;
}

function saved(kind: LabKind): boolean {
  return existsSync(join(SNAPSHOT_DIR, snapshotOf(kind), 'manifest.json'));
}

/** Bare hosts of the kind, set up as an operator does it (setup-master, setup-minion, secrets); not converged. */
export function provisionKind(repo: string, kind: LabKind): Promise<LabHostRow[]> {
  return provisionLab(repo, { env: kind.env, hosts: kind.hosts, minions: kind.minions, secrets: kind.secrets });
}

/** Saves the repo's converged hosts of the kind as this run's snapshot, unless a file saved it already. */
export async function offerSnapshot(repo: string, kind: LabKind): Promise<void> {
  if (saved(kind)) return;
  const r = await ops(['lab', 'snapshot', 'save', snapshotOf(kind), '--env', kind.env], { cwd: repo });
  expect(r.code, `lab snapshot save failed:\n${r.stderr}`).toBe(0);
}

/** The kind's hosts, converged: from this run's snapshot, or provisioned and converged here (and saved). */
export async function convergedLab(repo: string, kind: LabKind): Promise<LabHostRow[]> {
  const file = expect.getState().testPath ?? '';
  expect(kind.lane.some((f) => file.endsWith(f)), `${file} boots from the ${kind.name} snapshot: list it in the kind's lane (test/support/converged-kinds.ts)`).toBe(true);
  if (saved(kind)) {
    const r = await ops(['lab', 'up', '--from', snapshotOf(kind)], { cwd: repo });
    expect(r.code, `lab up --from failed:\n${r.stderr}`).toBe(0);
    return (await labHosts(repo)).filter((h) => h.env === kind.env);
  }
  const hosts = await provisionKind(repo, kind);
  const d = await ops(['deploy', kind.env], { cwd: repo });
  expect(d.code, `the converge of ${kind.name} failed:\n${d.stdout}${d.stderr}`).toBe(0);
  await offerSnapshot(repo, kind);
  return hosts;
}
