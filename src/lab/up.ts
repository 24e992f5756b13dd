/** `lab up`: makes the env's lab hosts exist and run (adding, removing, booting stopped ones again with their disks). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError, UsageError } from '../errors.js';
import type { Repo } from '../repo.js';
import { stopProxies, portOpen, proxyConfig, proxyInstanceOf, startProxy } from './apt-proxy-process.js';
import { bootHost, bootTimeoutMs, ensureBases, labRelease, powerCut, powerState } from './power.js';
import { DEFAULT_LAB_RELEASE } from '../platform/releases.js';
import { restoreEnvFiles, usableSnapshot, waitBooted } from './snapshot.js';
import { readHostKey } from './host-root.js';
import { readEnvPillarHosts, updateKnownHosts, writeEnvPillar } from './inventory.js';
import { ensureLabKey } from './lab-key.js';
import { clearDeadInstances, clearHost, clearInstance, describe, survey } from './leftovers.js';
import type { InstanceObjects } from './leftovers.js';
import { withLabLock } from './lock.js';
import { bridgeName, checkEnvName, hostDir, hostName, instanceIdFor, machineName, vethName } from './names.js';
import { deleteLink, ensureBridge, pickSubnet, subnetHolder } from './network.js';
import { labPreflight } from './preflight.js';
import { raiseKernelLimits } from './kernel-limits.js';
import { cmdline, isAlive } from './processes.js';
import { hostInfo, syncHosts } from './running.js';
import { labDir, readState, writeState } from './state.js';
import type { LabHostRecord, LabState } from './state.js';
import type { LabHostInfo, LabLog } from './types.js';

export const MAX_HOSTS = 200;
const FIRST_SLOT = 10;
const LAST_SLOT = 250;

async function freshState(repo: Repo, id: string): Promise<LabState> {
  const subnet = await pickSubnet(id);
  return { version: 1, instance: id, root: repo.root, bridge: bridgeName(id), subnet, gateway: `${subnet}.1`, hosts: [] };
}

function hasAnything(o: InstanceObjects | undefined): o is InstanceObjects {
  return !!o && (o.machines.size > 0 || o.netns.size > 0 || o.veths.size > 0 || o.bridge || o.hasDir || o.proxyPids.length > 0);
}

/** Brings the recorded state in line with the machine: drops hosts whose machine is gone, clears orphans. */
async function reconcile(repo: Repo, id: string, own: InstanceObjects | undefined, log: LabLog): Promise<LabState> {
  const recorded = readState(repo, id);
  if (!recorded) {
    if (hasAnything(own)) {
      log(`clearing leftovers of this lab (no usable .ops/lab/state.json): ${describe(own)}`);
      await clearInstance(own);
    }
    const state = await freshState(repo, id);
    writeState(repo, state);
    return state;
  }
  const state = recorded;
  const keep: LabHostRecord[] = [];
  const known = new Set(state.hosts.map((h) => h.machine));
  for (const h of state.hosts) {
    // a host that stopped (cleanly, or its power cut) keeps its disk, as a server does
    if (powerState(h) !== 'gone') {
      keep.push(h);
      continue;
    }
    log(`${h.name}: its disk is gone, clearing what is left of it`);
    await clearHost(id, h.machine, h.veth);
  }
  state.hosts = keep;
  for (const m of own?.machines ?? []) {
    if (known.has(m)) continue;
    log(`clearing an unrecorded lab machine ${m}`);
    await clearHost(id, m, undefined);
  }
  const knownVeths = new Set(keep.map((h) => h.veth));
  for (const v of own?.veths ?? []) if (!knownVeths.has(v)) await deleteLink(v);
  writeState(repo, state);
  return state;
}

async function ensureProxy(repo: Repo, state: LabState, log: LabLog): Promise<void> {
  const p = state.proxy;
  if (
    p &&
    isAlive(p.pid) &&
    proxyInstanceOf(cmdline(p.pid)) === state.instance &&
    p.address === state.gateway &&
    (await portOpen(p.address, p.port))
  ) {
    return;
  }
  await stopProxies(state.instance);
  const cfg = proxyConfig(state.instance, state.gateway);
  const logFile = join(labDir(repo), 'apt-proxy.log');
  log(`starting the apt proxy on ${cfg.listen}:${cfg.port}`);
  const pid = await startProxy(cfg, logFile);
  state.proxy = { pid, address: cfg.listen, port: cfg.port, log: logFile };
  writeState(repo, state);
}

function allocateSlots(state: LabState, count: number): number[] {
  const used = new Set(state.hosts.map((h) => h.slot));
  const out: number[] = [];
  for (let s = FIRST_SLOT; s <= LAST_SLOT && out.length < count; s++) if (!used.has(s)) out.push(s);
  if (out.length < count) throw new UsageError(`the lab has room for ${LAST_SLOT - FIRST_SLOT + 1} hosts in all`);
  return out;
}

function indexOf(name: string): number {
  return Number(/-(\d+)$/.exec(name)?.[1] ?? 0);
}

interface OpenLab {
  id: string;
  state: LabState;
  authorizedKey: string;
}

/** The lab key, leftovers of other instances cleared, and this instance's state in line with the machine. */
async function openLab(repo: Repo, log: LabLog): Promise<OpenLab> {
  const id = instanceIdFor(repo.root);
  const authorizedKey = await ensureLabKey(repo, id);
  const all = await survey();
  await clearDeadInstances(id, all, log);
  const state = await reconcile(repo, id, all.get(id), log);
  mkdirSync(join(labDir(repo), 'logs'), { recursive: true });
  return { id, state, authorizedKey };
}

/** Bridge and apt proxy ready (the base images are made when a host of their release boots). */
export async function startLab(repo: Repo, state: LabState, log: LabLog): Promise<void> {
  raiseKernelLimits(log);
  await ensureBridge(state.bridge, state.gateway);
  await ensureProxy(repo, state, log);
}

function newRecord(repo: Repo, id: string, state: LabState, env: string, name: string, slot: number, release: string): LabHostRecord {
  const machine = machineName(id, name);
  return {
    env,
    release,
    name,
    slot,
    address: `${state.subnet}.${slot}`,
    machine,
    netns: machine,
    veth: vethName(id, slot),
    dir: hostDir(id, name),
    log: join(labDir(repo), 'logs', `${name}.log`),
  };
}

function sortHosts(state: LabState): void {
  state.hosts.sort((a, b) => a.env.localeCompare(b.env) || indexOf(a.name) - indexOf(b.name));
}

/**
 * Boots `fresh` (new hosts) and `again` (hosts that stopped, with their disks) in parallel. A new host
 * that fails is cleared (its log stays); one booted again keeps its disk. The reasons are thrown together.
 */
async function bootAll(repo: Repo, id: string, state: LabState, fresh: LabHostRecord[], again: LabHostRecord[], authorizedKey: string, log: LabLog): Promise<void> {
  const all = [...fresh, ...again];
  if (all.length === 0) return;
  // the bases one at a time (each is built once per machine), then the hosts side by side
  await ensureBases(all, log);
  for (const h of again) {
    log(`${h.name}: ${powerState(h) === 'orphaned' ? 'its processes run without their supervisor: cutting its power, then' : 'stopped:'} booting it again with its disk`);
    if (powerState(h) === 'orphaned') await powerCut(h);
  }
  const timeout = bootTimeoutMs(all.length);
  const results = await Promise.allSettled(all.map((h) => bootHost(repo, state, h, authorizedKey, timeout, log)));
  const failed = all.filter((_, i) => results[i]?.status === 'rejected');
  if (failed.length > 0) {
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : []));
    // leave no half-made new host behind; logs stay in .ops/lab/logs
    const newOnes = failed.filter((h) => fresh.includes(h));
    await Promise.all(newOnes.map((h) => clearHost(id, h.machine, h.veth, h.pid).catch(() => undefined)));
    state.hosts = state.hosts.filter((h) => !newOnes.includes(h));
    writeState(repo, state);
    throw new OperationError(reasons.join('\n'));
  }
  writeState(repo, state);
}

/** After a change: /etc/hosts and the lab key in every host, the envs' inventory overlays and pins. */
async function publishHosts(repo: Repo, state: LabState, envs: readonly string[], removedAddresses: string[], authorizedKey: string): Promise<LabHostInfo[]> {
  // every host's /etc/hosts names all lab hosts; root's key is the repo's lab key
  syncHosts(state, authorizedKey);
  const envHosts = state.hosts.filter((h) => envs.includes(h.env));
  for (const h of envHosts) if (!h.hostKey) h.hostKey = readHostKey(h.dir);
  writeState(repo, state);
  for (const env of envs) {
    const mine = envHosts.filter((h) => h.env === env);
    // addresses the overlay listed before (an earlier lab, a copied .ops) lose their pinned keys
    const now = new Set(mine.map((h) => h.address));
    for (const h of readEnvPillarHosts(repo, env)) if (!now.has(h.address)) removedAddresses.push(h.address);
    writeEnvPillar(repo, env, mine.map((h) => ({ name: h.name, address: h.address })));
  }
  updateKnownHosts(
    repo,
    removedAddresses,
    envHosts.map((h) => ({ address: h.address, key: h.hostKey ?? '' })),
  );
  return Promise.all(envHosts.map((h) => hostInfo(h)));
}

/**
 * The release of each of `count` hosts from `--distro`: one release for all, or a comma-separated
 * list with one per host in order (`debian-12,debian-13,debian-13`).
 */
export function distrosFor(spec: string | undefined, count: number): string[] {
  const list = (spec ?? DEFAULT_LAB_RELEASE).split(',').map((d) => d.trim());
  for (const d of list) labRelease(d);
  if (list.length === 1) return Array.from({ length: count }, () => list[0] as string);
  if (list.length !== count) throw new UsageError(`--distro names ${list.length} releases for ${count} host(s)`, 'give one release for all hosts, or one per host, in order');
  return list;
}

export async function labUp(repo: Repo, opts: { env: string; hosts: number; distro?: string; log: LabLog }): Promise<LabHostInfo[]> {
  labPreflight();
  const { env, log } = opts;
  checkEnvName(env);
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > MAX_HOSTS) {
    throw new UsageError(`--hosts must be a whole number from 1 to ${MAX_HOSTS}`);
  }
  const distros = distrosFor(opts.distro, opts.hosts);
  return withLabLock(log, async () => {
    const { id, state, authorizedKey } = await openLab(repo, log);
    // a host keeps its release: another one for an existing host is a usage error, not a silent wipe
    if (opts.distro !== undefined) {
      for (const [i, d] of distros.entries()) {
        const h = state.hosts.find((x) => x.name === hostName(env, i + 1));
        if (h && h.release !== d) throw new UsageError(`${h.name} runs ${labRelease(h.release).name}, not ${labRelease(d).name}`, `to make it anew: ops lab destroy ${h.name} (its disk goes), then ops lab up`);
      }
    }
    await startLab(repo, state, log);

    const wanted = Array.from({ length: opts.hosts }, (_, i) => hostName(env, i + 1));
    const extras = state.hosts.filter((h) => h.env === env && !wanted.includes(h.name));
    const removedAddresses = extras.map((h) => h.address);
    if (extras.length > 0) {
      for (const h of extras) log(`${h.name} removing`);
      await Promise.all(extras.map((h) => clearHost(id, h.machine, h.veth, h.pid)));
      state.hosts = state.hosts.filter((h) => !extras.includes(h));
      writeState(repo, state);
    }

    const mine = state.hosts.filter((h) => h.env === env);
    const have = new Set(mine.map((h) => h.name));
    const missing = wanted.filter((n) => !have.has(n));
    const slots = allocateSlots(state, missing.length);
    const fresh = missing.map((name, i) => newRecord(repo, id, state, env, name, slots[i] ?? 0, distros[wanted.indexOf(name)] ?? DEFAULT_LAB_RELEASE));
    const again = mine.filter((h) => powerState(h) !== 'running');
    state.hosts.push(...fresh);
    sortHosts(state);
    writeState(repo, state);
    await bootAll(repo, id, state, fresh, again, authorizedKey, log);

    const infos = await publishHosts(repo, state, [env], removedAddresses, authorizedKey);
    for (const i of infos) if (i.state !== 'running') log(`${i.name}: its machine runs but sshd does not answer on ${i.address}:22`);
    return infos;
  });
}

/** Moves a lab with no hosts to another /24 (the addresses a snapshot's hosts had). */
async function moveSubnet(state: LabState, subnet: string, snapshot: string): Promise<void> {
  if (state.subnet === subnet) return;
  if (state.hosts.length > 0) {
    throw new UsageError(
      `this lab runs on ${state.subnet}.0/24, but the hosts of snapshot '${snapshot}' had addresses in ${subnet}.0/24`,
      'a snapshot boots its hosts at the addresses they had: `ops lab down` first',
    );
  }
  const holder = await subnetHolder(subnet, state.bridge);
  if (holder) {
    throw new OperationError(`${subnet}.0/24 (the addresses of snapshot '${snapshot}') is in use on this machine (${holder})`, 'is the lab it was saved from still up? `ops lab down` there first');
  }
  await deleteLink(state.bridge);
  state.subnet = subnet;
  state.gateway = `${subnet}.1`;
}

/**
 * `ops lab up --from NAME [--env E]`: boots the snapshot's hosts (of one env, or all) at the addresses they
 * had, with their disks, host keys and the repo's side of their envs (overlay pillar, keys, pins). Everything
 * is checked before anything changes; hosts already booted from this snapshot are kept.
 */
export async function labUpFrom(repo: Repo, opts: { snapshot: string; env?: string; log: LabLog }): Promise<LabHostInfo[]> {
  labPreflight();
  const { snapshot, env, log } = opts;
  if (env !== undefined) checkEnvName(env);
  return withLabLock(log, async () => {
    const m = usableSnapshot(snapshot);
    if (env !== undefined && !m.envs.includes(env)) {
      throw new UsageError(`lab snapshot '${snapshot}' has no env '${env}'`, `its envs: ${m.envs.join(', ')}`);
    }
    const envs = env === undefined ? m.envs : [env];
    const wanted = m.hosts.filter((h) => envs.includes(h.env));
    const { id, state, authorizedKey } = await openLab(repo, log);

    const fresh: LabHostRecord[] = [];
    const again: LabHostRecord[] = [];
    for (const s of wanted) {
      const have = state.hosts.find((h) => h.name === s.name);
      if (have) {
        if (have.snapshot === snapshot && have.address === s.address) {
          if (powerState(have) !== 'running') again.push(have);
          continue;
        }
        throw new UsageError(`lab host ${s.name} exists already (not booted from snapshot '${snapshot}')`, `remove it first: ops lab down --env ${s.env}`);
      }
      const slotHolder = state.hosts.find((h) => h.slot === s.slot);
      if (slotHolder) throw new UsageError(`the address of ${s.name} (${s.address}) is taken by lab host ${slotHolder.name}`, `remove it first: ops lab down --env ${slotHolder.env}`);
      const other = state.hosts.find((h) => h.env === s.env && h.snapshot !== snapshot);
      if (other) throw new UsageError(`lab env '${s.env}' has hosts not booted from snapshot '${snapshot}' (${other.name})`, `remove them first: ops lab down --env ${s.env}`);
    }
    if (wanted.some((s) => !state.hosts.some((h) => h.name === s.name))) await moveSubnet(state, m.subnet, snapshot);

    const replaced = restoreEnvFiles(repo, m, envs);
    if (replaced) log(`the env's earlier lab files were moved to ${replaced}`);
    for (const s of wanted) {
      if (state.hosts.some((h) => h.name === s.name)) continue;
      const rec = newRecord(repo, id, state, s.env, s.name, s.slot, s.release);
      rec.hostKey = s.hostKey;
      rec.layers = [...s.layers];
      rec.snapshot = snapshot;
      fresh.push(rec);
    }
    state.hosts.push(...fresh);
    sortHosts(state);
    writeState(repo, state);
    await startLab(repo, state, log);
    await bootAll(repo, id, state, fresh, again, authorizedKey, log);
    await Promise.all([...fresh, ...again].map((h) => waitBooted(h, 300_000, log)));
    return publishHosts(repo, state, envs, [], authorizedKey);
  });
}
