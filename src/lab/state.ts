/** `.ops/lab/state.json`: what this repo's lab instance made (bridge, subnet, proxy, hosts). */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Repo } from '../repo.js';
import { ensureStateDir } from '../repo.js';
import { instanceDir } from './names.js';

export interface LabHostRecord {
  env: string;
  name: string;
  /** last octet of the address in the instance's /24 */
  slot: number;
  address: string;
  machine: string;
  netns: string;
  veth: string;
  dir: string;
  log: string;
  pid?: number;
  /** `ssh-ed25519 AAAA…` of the host */
  hostKey?: string;
  /** snapshot layers under the host's own upper layer, top first (the base image comes below them) */
  layers?: string[];
  /** the snapshot the host was booted from (`ops lab up --from`) */
  snapshot?: string;
  /** its OS release (`debian-13`, a key of src/platform/releases.ts) */
  release: string;
}

export interface LabProxyRecord {
  pid: number;
  address: string;
  port: number;
  log: string;
}

export interface LabState {
  version: 1;
  instance: string;
  root: string;
  bridge: string;
  /** first three octets of the /24, e.g. `10.213.7` */
  subnet: string;
  gateway: string;
  proxy?: LabProxyRecord;
  hosts: LabHostRecord[];
}

export function labDir(repo: Repo): string {
  return ensureStateDir(repo, 'lab');
}

export function statePath(repo: Repo): string {
  return join(repo.stateDir, 'lab', 'state.json');
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function asHost(v: unknown): LabHostRecord | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const h = v as Record<string, unknown>;
  if (!isStr(h.env) || !isStr(h.name) || !isInt(h.slot) || !isStr(h.address) || !isStr(h.machine)) return undefined;
  if (!isStr(h.netns) || !isStr(h.veth) || !isStr(h.dir) || !isStr(h.log)) return undefined;
  const rec: LabHostRecord = {
    env: h.env,
    name: h.name,
    slot: h.slot,
    address: h.address,
    machine: h.machine,
    netns: h.netns,
    veth: h.veth,
    dir: h.dir,
    log: h.log,
    // hosts recorded before releases were recorded are Debian 12's
    release: isStr(h.release) ? h.release : 'debian-12',
  };
  if (isInt(h.pid)) rec.pid = h.pid;
  if (isStr(h.hostKey)) rec.hostKey = h.hostKey;
  if (Array.isArray(h.layers)) {
    if (!h.layers.every(isStr)) return undefined;
    rec.layers = [...h.layers];
  }
  if (isStr(h.snapshot)) rec.snapshot = h.snapshot;
  return rec;
}

function asProxy(v: unknown): LabProxyRecord | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const p = v as Record<string, unknown>;
  if (!isInt(p.pid) || !isStr(p.address) || !isInt(p.port) || !isStr(p.log)) return undefined;
  return { pid: p.pid, address: p.address, port: p.port, log: p.log };
}

/** The recorded state of `instance`; undefined when missing, unreadable, corrupt, or another instance's (a copied clone). */
export function readState(repo: Repo, instance: string): LabState | undefined {
  const p = statePath(repo);
  if (!existsSync(p)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(p, 'utf8'));
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object') return undefined;
  const s = raw as Record<string, unknown>;
  if (s.version !== 1 || s.instance !== instance) return undefined;
  if (!isStr(s.root) || !isStr(s.bridge) || !isStr(s.subnet) || !isStr(s.gateway) || !Array.isArray(s.hosts)) return undefined;
  const hosts: LabHostRecord[] = [];
  for (const h of s.hosts) {
    const rec = asHost(h);
    if (!rec) return undefined;
    hosts.push(rec);
  }
  const state: LabState = { version: 1, instance, root: s.root, bridge: s.bridge, subnet: s.subnet, gateway: s.gateway, hosts };
  const proxy = asProxy(s.proxy);
  if (proxy) state.proxy = proxy;
  return state;
}

export function writeState(repo: Repo, state: LabState): void {
  const p = statePath(repo);
  labDir(repo);
  const tmp = `${p}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, p);
  // which clone the instance's hosts belong to (read by other clones: see keptBy in leftovers.ts);
  // only once the instance has a folder, so a refused `up` leaves nothing on the machine
  const dir = instanceDir(state.instance);
  if (state.hosts.length > 0 && existsSync(dir)) writeFileSync(join(dir, OWNER_FILE), `${repo.root}\n`);
}

/** In an instance's folder: the root of the clone whose lab it is. */
export const OWNER_FILE = 'owner';
