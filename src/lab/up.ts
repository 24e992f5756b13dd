/** `lab up`: makes the env's lab hosts exist and run (adding, removing, or clearing stale ones as needed). */
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError, UsageError } from '../errors.js';
import type { Repo } from '../repo.js';
import { stopProxies, portOpen, proxyConfig, proxyInstanceOf, startProxy } from './apt-proxy-process.js';
import { ensureBaseImage } from './base-image.js';
import { restoreEnvFiles, usableSnapshot, waitBooted } from './snapshot.js';
import { prepareHostRoot, readHostKey, rootOf } from './host-root.js';
import { readEnvPillarHosts, updateKnownHosts, writeEnvPillar } from './inventory.js';
import { ensureLabKey } from './lab-key.js';
import { clearDeadInstances, clearHost, clearInstance, describe, survey } from './leftovers.js';
import type { InstanceObjects } from './leftovers.js';
import { withLabLock } from './lock.js';
import { isMachinePid, startMachine, waitForSsh } from './machine.js';
import { bridgeName, checkEnvName, hostDir, hostName, instanceIdFor, machineName, vethName } from './names.js';
import { createHostNetwork, deleteLink, ensureBridge, pickSubnet, subnetHolder } from './network.js';
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
    if (isMachinePid(h.pid, h.machine)) {
      keep.push(h);
      continue;
    }
    log(`${h.name}: stale (its machine is gone), clearing`);
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

function bootTimeoutMs(starting: number): number {
  const fromEnv = Number(process.env.OPS_LAB_BOOT_TIMEOUT ?? '');
  if (Number.isFinite(fromEnv) && fromEnv > 0) return fromEnv * 1000;
  return Math.min(600_000, 60_000 + 6_000 * starting);
}

async function bootHost(
  repo: Repo,
  state: LabState,
  h: LabHostRecord,
  base: string,
  authorizedKey: string,
  timeoutMs: number,
  log: LabLog,
): Promise<void> {
  const started = Date.now();
  await prepareHostRoot({
    dir: h.dir,
    name: h.name,
    lowers: [...(h.layers ?? []), base],
    gateway: state.gateway,
    proxyPort: state.proxy?.port ?? 0,
    authorizedKey,
    hosts: state.hosts.map((x) => ({ address: x.address, name: x.name })),
  });
  h.hostKey = readHostKey(h.dir);
  await createHostNetwork(h, state.bridge, state.gateway);
  writeFileSync(h.log, `# ${new Date().toISOString()} ops lab: booting ${h.name} (${h.address})\n`);
  h.pid = await startMachine({ machine: h.machine, root: rootOf(h.dir), netns: h.netns, log: h.log });
  writeState(repo, state);
  log(`${h.name} ${h.address} booting`);
  await waitForSsh(h.name, h.address, h.pid, h.machine, h.log, timeoutMs);
  log(`${h.name} ready (ssh) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
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

/** Bridge, apt proxy and base image ready; returns the base image. */
async function startLab(repo: Repo, state: LabState, log: LabLog): Promise<string> {
  raiseKernelLimits(log);
  await ensureBridge(state.bridge, state.gateway);
  await ensureProxy(repo, state, log);
  return ensureBaseImage(log);
}

function newRecord(repo: Repo, id: string, state: LabState, env: string, name: string, slot: number): LabHostRecord {
  const machine = machineName(id, name);
  return {
    env,
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

/** Boots `fresh` in parallel; a host that fails is cleared (its log stays) and the reasons are thrown together. */
async function bootAll(repo: Repo, id: string, state: LabState, fresh: LabHostRecord[], base: string, authorizedKey: string, log: LabLog): Promise<void> {
  if (fresh.length === 0) return;
  const timeout = bootTimeoutMs(fresh.length);
  const results = await Promise.allSettled(fresh.map((h) => bootHost(repo, state, h, base, authorizedKey, timeout, log)));
  const failed = fresh.filter((_, i) => results[i]?.status === 'rejected');
  if (failed.length > 0) {
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : []));
    // leave no half-made host behind; logs stay in .ops/lab/logs
    await Promise.all(failed.map((h) => clearHost(id, h.machine, h.veth, h.pid).catch(() => undefined)));
    state.hosts = state.hosts.filter((h) => !failed.includes(h));
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

export async function labUp(repo: Repo, opts: { env: string; hosts: number; log: LabLog }): Promise<LabHostInfo[]> {
  labPreflight();
  const { env, log } = opts;
  checkEnvName(env);
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > MAX_HOSTS) {
    throw new UsageError(`--hosts must be a whole number from 1 to ${MAX_HOSTS}`);
  }
  return withLabLock(log, async () => {
    const { id, state, authorizedKey } = await openLab(repo, log);
    const base = await startLab(repo, state, log);

    const wanted = Array.from({ length: opts.hosts }, (_, i) => hostName(env, i + 1));
    const extras = state.hosts.filter((h) => h.env === env && !wanted.includes(h.name));
    const removedAddresses = extras.map((h) => h.address);
    if (extras.length > 0) {
      for (const h of extras) log(`${h.name} removing`);
      await Promise.all(extras.map((h) => clearHost(id, h.machine, h.veth, h.pid)));
      state.hosts = state.hosts.filter((h) => !extras.includes(h));
      writeState(repo, state);
    }

    const have = new Set(state.hosts.filter((h) => h.env === env).map((h) => h.name));
    const missing = wanted.filter((n) => !have.has(n));
    const slots = allocateSlots(state, missing.length);
    const fresh = missing.map((name, i) => newRecord(repo, id, state, env, name, slots[i] ?? 0));
    state.hosts.push(...fresh);
    sortHosts(state);
    writeState(repo, state);
    await bootAll(repo, id, state, fresh, base, authorizedKey, log);

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
    for (const s of wanted) {
      const have = state.hosts.find((h) => h.name === s.name);
      if (have) {
        if (have.snapshot === snapshot && have.address === s.address) continue;
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
      const rec = newRecord(repo, id, state, s.env, s.name, s.slot);
      rec.hostKey = s.hostKey;
      rec.layers = [...s.layers];
      rec.snapshot = snapshot;
      fresh.push(rec);
    }
    state.hosts.push(...fresh);
    sortHosts(state);
    writeState(repo, state);
    const base = await startLab(repo, state, log);
    await bootAll(repo, id, state, fresh, base, authorizedKey, log);
    await Promise.all(fresh.map((h) => waitBooted(h, 300_000, log)));
    return publishHosts(repo, state, envs, [], authorizedKey);
  });
}
