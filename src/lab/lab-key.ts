/** The SSH key ops uses for root on lab hosts: one ed25519 pair per repo at `.ops/lab/id_ed25519` (0600). */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Repo } from '../repo.js';
import { run } from './exec.js';
import { labDir } from './state.js';

export function labKeyPath(repo: Repo): string {
  return join(repo.stateDir, 'lab', 'id_ed25519');
}

/** Creates the key pair if missing; returns the public key line. */
export async function ensureLabKey(repo: Repo, instance: string): Promise<string> {
  labDir(repo);
  const key = labKeyPath(repo);
  const pub = `${key}.pub`;
  if (!existsSync(key)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `ops-lab@${instance}`, '-f', key]);
  }
  chmodSync(key, 0o600);
  if (!existsSync(pub)) {
    const derived = await run('ssh-keygen', ['-y', '-f', key]);
    writeFileSync(pub, `${derived.trim()} ops-lab@${instance}\n`, { mode: 0o644 });
  }
  return readFileSync(pub, 'utf8').trim();
}
