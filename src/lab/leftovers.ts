/**
 * Finds lab objects on this machine by name — namespaces, links, cgroups, mounts, folders and processes of any
 * ops instance — and removes them. Used by `lab up` (clear stale objects) and by `lab down` (works without
 * state.json).
 */
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { upperOf } from './host-root.js';
import { repoAt } from '../repo.js';
import { OWNER_FILE, statePath } from './state.js';
import { cgroupMachines, machineProcesses, removeCgroupParentIfEmpty, removeMachineCgroups } from './cgroups.js';
import { proxyInstanceOf, stopProxies } from './apt-proxy-process.js';
import { stopMachine } from './machine.js';
import { isMounted, mountsUnder, removeTree } from './mounts.js';
import { BRIDGE_RE, INSTANCE_ID_RE, MACHINE_RE, VAR_DIR, VETH_RE, hostDir, instanceDir, machineName } from './names.js';
import { deleteLink, deleteNetns, linkNames, netnsNames } from './network.js';
import { argValue, findProcesses } from './processes.js';

const NSPAWN_PROPAGATE_DIR = '/run/systemd/nspawn/propagate';
const NSPAWN_LOCK_DIR = '/run/systemd/nspawn/locks';

export interface InstanceObjects {
  id: string;
  /** machine names (= namespace and cgroup names) seen in any form */
  machines: Set<string>;
  netns: Set<string>;
  bridge: boolean;
  veths: Set<string>;
  hasDir: boolean;
  nspawnPids: number[];
  proxyPids: number[];
}

function entry(map: Map<string, InstanceObjects>, id: string): InstanceObjects {
  let o = map.get(id);
  if (!o) {
    o = { id, machines: new Set(), netns: new Set(), bridge: false, veths: new Set(), hasDir: false, nspawnPids: [], proxyPids: [] };
    map.set(id, o);
  }
  return o;
}

function subdirNames(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** Every lab object on this machine, grouped by instance id. */
export async function survey(): Promise<Map<string, InstanceObjects>> {
  const map = new Map<string, InstanceObjects>();
  for (const ns of await netnsNames()) {
    const m = MACHINE_RE.exec(ns);
    if (m?.[1]) {
      const o = entry(map, m[1]);
      o.netns.add(ns);
      o.machines.add(ns);
    }
  }
  for (const link of await linkNames()) {
    const b = BRIDGE_RE.exec(link);
    if (b?.[1]) entry(map, b[1]).bridge = true;
    const v = VETH_RE.exec(link);
    if (v?.[1]) entry(map, v[1]).veths.add(link);
  }
  for (const id of subdirNames(VAR_DIR)) {
    if (!INSTANCE_ID_RE.test(id)) continue;
    const o = entry(map, id);
    o.hasDir = true;
    for (const h of subdirNames(join(instanceDir(id), 'hosts'))) o.machines.add(machineName(id, h));
  }
  for (const mnt of mountsUnder(VAR_DIR)) {
    const id = mnt.slice(VAR_DIR.length + 1).split('/')[0] ?? '';
    if (INSTANCE_ID_RE.test(id)) entry(map, id).hasDir = true;
  }
  for (const machine of cgroupMachines()) {
    const m = MACHINE_RE.exec(machine);
    if (m?.[1]) entry(map, m[1]).machines.add(machine);
  }
  for (const p of findProcesses(() => true)) {
    const a0 = p.argv[0] ?? '';
    if (a0 === 'systemd-nspawn' || a0.endsWith('/systemd-nspawn')) {
      const machine = argValue(p.argv, '-M', '--machine') ?? '';
      const m = MACHINE_RE.exec(machine);
      if (m?.[1]) {
        const o = entry(map, m[1]);
        o.machines.add(machine);
        o.nspawnPids.push(p.pid);
      }
      continue;
    }
    const proxyOf = proxyInstanceOf(p.argv);
    if (proxyOf && INSTANCE_ID_RE.test(proxyOf)) entry(map, proxyOf).proxyPids.push(p.pid);
  }
  return map;
}

/** Whether any process of the instance still runs (its machines, their nspawn, its apt proxy). */
export function hasLiveProcesses(o: InstanceObjects): boolean {
  if (o.nspawnPids.length > 0 || o.proxyPids.length > 0) return true;
  for (const m of o.machines) if (machineProcesses(m).length > 0) return true;
  return false;
}

/** nspawn leaves a lock file named after the root folder's device and inode; remove it with the root. */
export function removeNspawnLock(root: string): void {
  if (!isMounted(root)) return;
  try {
    const st = statSync(root);
    rmSync(join(NSPAWN_LOCK_DIR, `inode-${st.dev}:${st.ino}`), { force: true });
  } catch {
    // nothing to remove
  }
}

/**
 * Removes one host's objects: processes, overlay mount and folder, namespace, veth, cgroups. Its disk goes
 * too, so there is nothing a clean shutdown would keep: its processes are killed at once.
 */
export async function clearHost(id: string, machine: string, veth: string | undefined, pid?: number): Promise<void> {
  await stopMachine(machine, pid, 0);
  const name = machine.slice(`ops-${id}-`.length);
  removeNspawnLock(join(hostDir(id, name), 'root'));
  await removeTree(hostDir(id, name));
  await deleteNetns(machine);
  if (veth) await deleteLink(veth);
  removeMachineCgroups(machine);
  // nspawn's own runtime folder, left behind when nspawn was killed
  await removeTree(join(NSPAWN_PROPAGATE_DIR, machine));
}

/** Removes everything of an instance: proxy, hosts, links, bridge, folder. */
export async function clearInstance(o: InstanceObjects): Promise<void> {
  await stopProxies(o.id);
  await Promise.all([...o.machines].map((m) => clearHost(o.id, m, undefined)));
  for (const v of o.veths) await deleteLink(v);
  for (const ns of o.netns) await deleteNetns(ns);
  if (o.bridge) await deleteLink(`opsbr-${o.id}`);
  await removeTree(instanceDir(o.id));
  removeCgroupParentIfEmpty();
}

/**
 * The clone whose lab this is, when that clone still has it: its state names the instance and hosts
 * whose disks are here (stopped hosts — after `lab stop`, `kill` or a reboot of this machine — that
 * `lab start` and `lab up` boot again). Such a lab is never cleared by another clone.
 */
export function keptBy(id: string): string | undefined {
  try {
    const root = readFileSync(join(instanceDir(id), OWNER_FILE), 'utf8').trim();
    const state = JSON.parse(readFileSync(statePath(repoAt(root)), 'utf8')) as { instance?: unknown; hosts?: { name?: unknown }[] };
    if (state.instance !== id || !Array.isArray(state.hosts)) return undefined;
    const disks = state.hosts.some((h) => typeof h.name === 'string' && existsSync(upperOf(hostDir(id, h.name))));
    return disks ? root : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Clears leftovers of other ops instances whose processes are all gone (e.g. the lab of a clone that
 * was deleted, after the machine's processes were killed). Instances with anything still running are
 * left alone, and so are the stopped labs of clones that still have them (`keptBy`).
 */
export async function clearDeadInstances(ownId: string, all: Map<string, InstanceObjects>, log: (l: string) => void): Promise<void> {
  for (const o of all.values()) {
    if (o.id === ownId || hasLiveProcesses(o)) continue;
    const owner = keptBy(o.id);
    if (owner !== undefined) {
      log(`keeping the stopped lab of ${owner} (instance ${o.id}): \`ops lab down\` there removes it`);
      continue;
    }
    log(`clearing leftovers of an earlier lab (instance ${o.id}): ${describe(o)}`);
    await clearInstance(o);
  }
}

export function describe(o: InstanceObjects): string {
  const parts: string[] = [];
  if (o.machines.size) parts.push(`${o.machines.size} host(s)`);
  if (o.netns.size) parts.push(`${o.netns.size} namespace(s)`);
  if (o.veths.size || o.bridge) parts.push(`${o.veths.size + (o.bridge ? 1 : 0)} link(s)`);
  if (o.hasDir) parts.push('folders/mounts');
  return parts.join(', ') || 'nothing';
}
