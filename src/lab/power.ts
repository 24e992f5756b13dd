/**
 * A lab host as a server: booted (with its disk as it was), shut down cleanly, its power cut, or
 * destroyed. Its disk — the overlay upper layer over its release's base (and a snapshot's layers)
 * — outlives everything but `destroy`: packages, keys and data stay across stop, kill and start.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError, UsageError } from '../errors.js';
import { releaseByKey, type OsRelease } from '../platform/releases.js';
import type { Repo } from '../repo.js';
import { ensureBaseImage } from './base-image.js';
import { killMachineCgroup, machineProcesses, removeMachineCgroups } from './cgroups.js';
import { prepareHostRoot, readHostKey, rootOf, upperOf } from './host-root.js';
import { removeNspawnLock } from './leftovers.js';
import { isMachinePid, nspawnPids, startMachine, stopMachine, waitForSsh } from './machine.js';
import { removeTree } from './mounts.js';
import { baseDirFor } from './names.js';
import { createHostNetwork } from './network.js';
import { signal, waitGone } from './processes.js';
import { writeState, type LabHostRecord, type LabState } from './state.js';
import type { LabLog } from './types.js';

/** The release a lab host runs (only Debian releases the lab can boot). */
export function labRelease(key: string): OsRelease {
  const r = releaseByKey(key);
  if (!r || !r.lab) throw new UsageError(`the lab cannot boot '${key}'`, 'the lab boots debian-13 and debian-12');
  return r;
}

/** What the host is now, as the machine says (not as state.json remembers). */
export type PowerState = 'running' | 'orphaned' | 'stopped' | 'gone';

export function powerState(h: LabHostRecord): PowerState {
  if (isMachinePid(h.pid, h.machine) || nspawnPids(h.machine).length > 0) return 'running';
  if (machineProcesses(h.machine).length > 0) return 'orphaned';
  return existsSync(upperOf(h.dir)) ? 'stopped' : 'gone';
}

/** The base images of `hosts`, one build at a time (hosts of one release share theirs; bootHost then finds it made). */
export async function ensureBases(hosts: readonly LabHostRecord[], log: LabLog): Promise<void> {
  for (const key of new Set(hosts.map((h) => h.release))) await ensureBaseImage(labRelease(key), log);
}

export function bootTimeoutMs(starting: number): number {
  const fromEnv = Number(process.env.OPS_LAB_BOOT_TIMEOUT ?? '');
  if (Number.isFinite(fromEnv) && fromEnv > 0) return fromEnv * 1000;
  return Math.min(600_000, 60_000 + 6_000 * starting);
}

/** nspawn's runtime folder of a machine, left behind when it was killed. */
const NSPAWN_PROPAGATE_DIR = '/run/systemd/nspawn/propagate';

/**
 * Boots a host: its disk (made when new, as it was otherwise), its network, systemd; waits for sshd.
 * A new host gets an identity of its own (host keys, machine-id); a host booted again keeps its own.
 */
export async function bootHost(repo: Repo, state: LabState, h: LabHostRecord, authorizedKey: string, timeoutMs: number, log: LabLog): Promise<void> {
  const started = Date.now();
  const release = labRelease(h.release);
  const base = await ensureBaseImage(release, log);
  await prepareHostRoot({
    dir: h.dir,
    name: h.name,
    lowers: [...(h.layers ?? []), base],
    codename: release.codename,
    gateway: state.gateway,
    proxyPort: state.proxy?.port ?? 0,
    authorizedKey,
    hosts: state.hosts.map((x) => ({ address: x.address, name: x.name })),
  });
  h.hostKey = readHostKey(h.dir);
  await createHostNetwork(h, state.bridge, state.gateway);
  removeNspawnLock(rootOf(h.dir));
  await removeTree(join(NSPAWN_PROPAGATE_DIR, h.machine));
  writeFileSync(h.log, `# ${new Date().toISOString()} ops lab: booting ${h.name} (${h.address}, ${release.name})\n`, { flag: 'a' });
  h.pid = await startMachine({ machine: h.machine, root: rootOf(h.dir), netns: h.netns, log: h.log });
  writeState(repo, state);
  log(`${h.name} ${h.address} booting (${release.name})`);
  await waitForSsh(h.name, h.address, h.pid, h.machine, h.log, timeoutMs);
  log(`${h.name} ready (ssh) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** A clean shutdown (systemd stops every service); the disk stays. */
export async function shutDown(h: LabHostRecord): Promise<void> {
  await stopMachine(h.machine, h.pid);
  h.pid = undefined;
}

/** A power cut: every process of the host ends at once; the disk stays as the processes left it. */
export async function powerCut(h: LabHostRecord): Promise<void> {
  killMachineCgroup(h.machine);
  for (const pid of nspawnPids(h.machine)) signal(pid, 'SIGKILL');
  const left = await waitGone([...machineProcesses(h.machine), ...nspawnPids(h.machine)], 15_000);
  if (left.length > 0) throw new OperationError(`processes of ${h.name} do not end: ${left.join(', ')}`);
  removeMachineCgroups(h.machine);
  h.pid = undefined;
}

export function baseOf(h: LabHostRecord): string {
  return baseDirFor(labRelease(h.release).codename);
}
