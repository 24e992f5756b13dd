/** `lab down`: removes an env's lab hosts, or the whole lab of this repo, and their entries in .ops/. */
import { readFileSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Repo } from '../repo.js';
import { labEnvsInOverlay, readEnvPillarHosts, removeEnvPillar, updateKnownHosts } from './inventory.js';
import { clearHost, clearInstance, survey } from './leftovers.js';
import type { InstanceObjects } from './leftovers.js';
import { withLabLock } from './lock.js';
import { MACHINE_RE, checkEnvName, instanceIdFor } from './names.js';
import { labPreflight } from './preflight.js';
import { syncHosts } from './running.js';
import { readState, statePath, writeState } from './state.js';
import { labKeyPath } from './lab-key.js';
import type { LabLog } from './types.js';

function envOfMachine(machine: string, id: string): string | undefined {
  const m = MACHINE_RE.exec(machine);
  return m && m[1] === id ? m[2] : undefined;
}

/** Removes state.json and the logs (the lab key stays: the next `lab up` uses it again). */
function removeStateFile(repo: Repo): void {
  try {
    unlinkSync(statePath(repo));
  } catch {
    // absent
  }
  const dir = join(repo.stateDir, 'lab');
  rmSync(join(dir, 'logs'), { recursive: true, force: true });
  rmSync(join(dir, 'apt-proxy.log'), { force: true });
}

function removeHostLog(repo: Repo, name: string): void {
  rmSync(join(repo.stateDir, 'lab', 'logs', `${name}.log`), { force: true });
}

function forgetEnv(repo: Repo, env: string, addresses: Iterable<string>): void {
  const all = new Set(addresses);
  for (const h of readEnvPillarHosts(repo, env)) all.add(h.address);
  removeEnvPillar(repo, env);
  updateKnownHosts(repo, [...all], []);
}

function labKey(repo: Repo): string | undefined {
  try {
    return readFileSync(`${labKeyPath(repo)}.pub`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Removes the lab (or one env of it); says which envs and how many hosts went. */
export async function labDown(repo: Repo, opts: { env?: string; log: LabLog }): Promise<{ envs: string[]; hosts: number }> {
  labPreflight();
  const { env, log } = opts;
  if (env !== undefined) checkEnvName(env);
  const id = instanceIdFor(repo.root);
  return withLabLock(log, async () => {
    const state = readState(repo, id);
    const own: InstanceObjects | undefined = (await survey()).get(id);

    if (env === undefined) {
      const envs = new Set<string>(labEnvsInOverlay(repo));
      for (const h of state?.hosts ?? []) envs.add(h.env);
      for (const m of own?.machines ?? []) {
        const e = envOfMachine(m, id);
        if (e) envs.add(e);
      }
      if (own) {
        log(`stopping the lab (${own.machines.size} host(s))…`);
        await clearInstance(own);
      }
      for (const e of envs) forgetEnv(repo, e, (state?.hosts ?? []).filter((h) => h.env === e).map((h) => h.address));
      removeStateFile(repo);
      log('lab removed');
      return { envs: [...envs].sort(), hosts: own?.machines.size ?? 0 };
    }

    const recorded = (state?.hosts ?? []).filter((h) => h.env === env);
    const machines = new Set(recorded.map((h) => h.machine));
    for (const m of own?.machines ?? []) if (envOfMachine(m, id) === env) machines.add(m);
    if (machines.size > 0) log(`stopping ${machines.size} host(s) of lab env '${env}'…`);
    await Promise.all(
      [...machines].map((m) => {
        const h = recorded.find((r) => r.machine === m);
        return clearHost(id, m, h?.veth, h?.pid);
      }),
    );
    forgetEnv(repo, env, recorded.map((h) => h.address));
    for (const m of machines) removeHostLog(repo, m.slice(`ops-${id}-`.length));

    const left = (await survey()).get(id);
    const remaining = (state?.hosts ?? []).filter((h) => h.env !== env);
    if (remaining.length === 0 && (!left || left.machines.size === 0)) {
      // the last env: bridge, proxy and folders go too
      if (left) await clearInstance(left);
      removeStateFile(repo);
      log('lab removed (no env left)');
      return { envs: [env], hosts: machines.size };
    }
    if (state) {
      state.hosts = remaining;
      writeState(repo, state);
      const key = labKey(repo);
      if (key) syncHosts(state, key);
    }
    log(`lab env '${env}' removed`);
    return { envs: [env], hosts: machines.size };
  });
}
