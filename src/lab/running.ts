/** The live view of recorded lab hosts: their state, and files kept in sync inside running hosts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rootOf, syncHostsFile } from './host-root.js';
import { isMachinePid, sshBanner } from './machine.js';
import { powerState } from './power.js';
import { isMounted } from './mounts.js';
import type { LabHostRecord, LabState } from './state.js';
import type { LabHostInfo } from './types.js';

/** What is true of a recorded host now: read from its processes and disk, and whether its sshd answers. */
export async function hostInfo(h: LabHostRecord): Promise<LabHostInfo> {
  const power = powerState(h);
  const state: LabHostInfo['state'] =
    power === 'running' ? ((await sshBanner(h.address, 22, 1500)) ? 'running' : 'starting') : power === 'orphaned' ? 'orphaned' : power === 'stopped' ? 'stopped' : 'stale';
  const info: LabHostInfo = { env: h.env, name: h.name, address: h.address, port: 22, state, netns: h.netns, release: h.release };
  if (power === 'running' && h.pid !== undefined && isMachinePid(h.pid, h.machine)) info.pid = h.pid;
  return info;
}

/** Writes /etc/hosts (all lab hosts) and root's authorized_keys (the lab key) into every mounted host root that differs. */
export function syncHosts(state: LabState, authorizedKey: string): void {
  const entries = state.hosts.map((h) => ({ address: h.address, name: h.name }));
  for (const h of state.hosts) {
    const root = rootOf(h.dir);
    if (!isMounted(root)) continue;
    syncHostsFile(h.dir, h.name, entries);
    const ak = join(root, 'root/.ssh/authorized_keys');
    const want = `${authorizedKey.trim()}\n`;
    let have = '';
    try {
      have = readFileSync(ak, 'utf8');
    } catch {
      // missing
    }
    if (!have.split('\n').some((l) => l.trim() === authorizedKey.trim())) {
      writeFileSync(ak, have && !have.endsWith('\n') ? `${have}\n${want}` : `${have}${want}`, { mode: 0o600 });
    }
  }
}
