/** `lab status`: the recorded hosts of this repo's lab and whether they run, plus unrecorded leftovers. */
import type { Repo } from '../repo.js';
import { survey } from './leftovers.js';
import { MACHINE_RE, instanceIdFor } from './names.js';
import { hostInfo } from './running.js';
import { readState } from './state.js';
import type { LabHostInfo } from './types.js';

export async function labStatus(repo: Repo): Promise<LabHostInfo[]> {
  const id = instanceIdFor(repo.root);
  const state = readState(repo, id);
  const hosts = state?.hosts ?? [];
  const out = await Promise.all(hosts.map((h) => hostInfo(h)));
  if (process.platform !== 'linux') return out;
  const own = (await survey().catch(() => undefined))?.get(id);
  const known = new Set(hosts.map((h) => h.machine));
  for (const m of own?.machines ?? []) {
    const parsed = MACHINE_RE.exec(m);
    if (known.has(m) || !parsed) continue;
    out.push({ env: parsed[2] ?? '', name: `${parsed[2] ?? ''}-${parsed[3] ?? ''}`, address: '', port: 22, state: 'stale', netns: m, release: '' });
  }
  return out;
}
