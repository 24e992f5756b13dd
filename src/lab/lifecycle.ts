/**
 * `ops lab stop|kill|start|destroy HOST…`: a lab host behaves like a server across a clean shutdown, a
 * power cut and a reboot; only `destroy` takes its disk (the next `ops lab up` makes a new host, with a
 * new host key, in its place).
 */
import { UsageError } from '../errors.js';
import type { Repo } from '../repo.js';
import { ensureLabKey } from './lab-key.js';
import { clearHost } from './leftovers.js';
import { withLabLock } from './lock.js';
import { instanceIdFor } from './names.js';
import { updateKnownHosts } from './inventory.js';
import { bootHost, bootTimeoutMs, ensureBases, powerCut, powerState, shutDown } from './power.js';
import { labPreflight } from './preflight.js';
import { hostInfo, syncHosts } from './running.js';
import { readState, writeState, type LabHostRecord, type LabState } from './state.js';
import { startLab } from './up.js';
import type { LabHostInfo, LabLog } from './types.js';

export type LabPowerAction = 'stop' | 'kill' | 'start' | 'destroy';

function pick(state: LabState | undefined, names: readonly string[]): LabHostRecord[] {
  if (names.length === 0) throw new UsageError('which hosts? name them, e.g. lab-2', 'see `ops lab status`');
  const hosts = state?.hosts ?? [];
  return [...new Set(names)].map((n) => {
    const h = hosts.find((x) => x.name === n);
    if (!h) throw new UsageError(`no lab host '${n}'`, `hosts: ${hosts.map((x) => x.name).join(', ') || 'none (ops lab up)'}`);
    return h;
  });
}

export async function labPower(repo: Repo, action: LabPowerAction, names: readonly string[], log: LabLog): Promise<LabHostInfo[]> {
  labPreflight();
  const id = instanceIdFor(repo.root);
  return withLabLock(log, async () => {
    const state = readState(repo, id);
    const hosts = pick(state, names);
    if (!state) return [];
    const save = () => writeState(repo, state);
    for (const h of hosts) {
      const now = powerState(h);
      if (action === 'destroy') {
        log(`${h.name}: destroying it and its disk`);
        await clearHost(id, h.machine, h.veth, h.pid);
        state.hosts = state.hosts.filter((x) => x !== h);
        // its host key is gone with it: the pin goes too (the next `up` pins the new host's key)
        updateKnownHosts(repo, [h.address], []);
      } else if (action === 'start') {
        // below, all at once
      } else if (now === 'stopped') log(`${h.name}: already stopped`);
      else if (now === 'gone') log(`${h.name}: its disk is gone (\`ops lab up\` makes a new host in its place)`);
      else if (now === 'orphaned') {
        log(`${h.name}: its nspawn supervisor is gone, so it cannot shut down cleanly: its processes end at once`);
        await powerCut(h);
      } else if (action === 'stop') {
        log(`${h.name}: shutting down`);
        await shutDown(h);
      } else {
        log(`${h.name}: cutting its power`);
        await powerCut(h);
      }
      save();
    }
    if (action === 'start') {
      const key = await ensureLabKey(repo, id);
      // after the machine itself restarted, the bridge and the apt proxy are gone too
      await startLab(repo, state, log);
      const down = hosts.filter((h) => powerState(h) !== 'running');
      for (const h of hosts.filter((x) => !down.includes(x))) log(`${h.name}: already running`);
      for (const h of down) if (powerState(h) === 'orphaned') await powerCut(h);
      await ensureBases(down, log);
      await Promise.all(down.map((h) => bootHost(repo, state, h, key, bootTimeoutMs(down.length), log)));
      save();
      syncHosts(state, key);
    }
    return Promise.all(hosts.filter((h) => state.hosts.includes(h)).map((h) => hostInfo(h)));
  });
}
