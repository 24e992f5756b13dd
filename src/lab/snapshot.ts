/**
 * Converged lab snapshots. `save` keeps the disks of an environment's hosts: each host is shut down cleanly,
 * its overlay upper layer moves into the snapshot (no copy) and the host boots again on top of it, so the
 * lab goes on exactly as it was. A host booted from a snapshot (`ops lab up --from`) gets an empty upper layer
 * over the snapshot's layers: it starts in seconds, already converged, with the host keys, addresses and
 * files it had. The repo's side of the environment (the lab's overlay pillar with inventory, keys and
 * secrets; the pins) travels in the snapshot too.
 *
 *   /var/cache/ops-lab/snapshots/<name>/manifest.json      written last: a folder without it is incomplete
 *   /var/cache/ops-lab/snapshots/<name>/hosts/<host>/layer the host's disk (an overlay upper layer)
 *   /var/cache/ops-lab/snapshots/<name>/repo/…              files of the repo's .ops/ (pillar overlay, keys)
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { errorMessage, OperationError, UsageError } from '../errors.js';
import { bundleId } from '../provision/bundle.js';
import { ensureStateDir, type Repo } from '../repo.js';
import { version } from '../version.js';
import { baseImageId } from './base-image.js';
import { tryRun, run } from './exec.js';
import { rootOf, upperOf, workOf } from './host-root.js';
import { removeNspawnLock } from './leftovers.js';
import { withLabLock } from './lock.js';
import { isMachinePid } from './machine.js';
import { mountsUnder, removeTree, unmountUnder } from './mounts.js';
import { baseDirFor, SNAPSHOT_DIR, checkEnvName, checkSnapshotName, instanceIdFor, snapshotDir } from './names.js';
import { baseOf, bootHost, labRelease, shutDown } from './power.js';
import { labPreflight } from './preflight.js';
import { machineProcesses } from './cgroups.js';
import { sleep } from './processes.js';
import { readState, writeState, type LabHostRecord, type LabState } from './state.js';
import type { LabLog } from './types.js';

export interface SnapshotHost {
  env: string;
  name: string;
  slot: number;
  address: string;
  /** `ssh-ed25519 AAAA…` */
  hostKey: string;
  /** the host's layers, top first (its own, then those of the snapshot it was booted from, …); the base comes below */
  layers: string[];
  /** its release (`debian-13`) and the base image of that release it was made on */
  release: string;
  base: { dir: string; id: string };
}

export interface SnapshotManifest {
  version: 1;
  name: string;
  created: string;
  /** `ops <version> (bundle <id>)` that made it */
  ops: string;
  /** first three octets of the lab's /24: the hosts come back at the same addresses */
  subnet: string;
  envs: string[];
  hosts: SnapshotHost[];
  /** files under `<snapshot>/repo/`, relative to the repo's `.ops/` */
  files: string[];
  /** the repo it was saved from (for people reading `snapshot list`) */
  source: string;
}

const MANIFEST = 'manifest.json';

export function opsIdentity(): string {
  return `ops ${version} (bundle ${bundleId()})`;
}

export function manifestPath(name: string): string {
  return join(snapshotDir(name), MANIFEST);
}

function isManifest(v: unknown): v is SnapshotManifest {
  if (!v || typeof v !== 'object') return false;
  const m = v as Record<string, unknown>;
  const hostOk = (h: unknown): boolean => {
    if (!h || typeof h !== 'object') return false;
    const r = h as Record<string, unknown>;
    const base = r.base as Record<string, unknown> | undefined;
    return (
      typeof r.env === 'string' && typeof r.name === 'string' && Number.isInteger(r.slot) && typeof r.address === 'string' && typeof r.hostKey === 'string' &&
      Array.isArray(r.layers) && r.layers.every((l) => typeof l === 'string') && typeof r.release === 'string' && !!base && typeof base.dir === 'string' && typeof base.id === 'string'
    );
  };
  return (
    m.version === 1 &&
    typeof m.name === 'string' &&
    typeof m.created === 'string' &&
    typeof m.ops === 'string' &&
    typeof m.subnet === 'string' &&
    Array.isArray(m.envs) &&
    Array.isArray(m.hosts) &&
    m.hosts.every(hostOk) &&
    Array.isArray(m.files) &&
    m.files.every((f) => typeof f === 'string')
  );
}

/** The manifest of a complete snapshot; undefined when the folder is missing or incomplete (no or bad manifest). */
export function readManifest(name: string): SnapshotManifest | undefined {
  try {
    const raw = JSON.parse(readFileSync(manifestPath(name), 'utf8')) as unknown;
    return isManifest(raw) ? raw : undefined;
  } catch {
    return undefined;
  }
}

/** Why a snapshot cannot be used on this machine now (ops, base images, layers), or undefined when it can. */
export function snapshotProblem(m: SnapshotManifest, current = { ops: opsIdentity(), baseDirOf: (release: string) => baseDirFor(labRelease(release).codename) }): string | undefined {
  if (m.ops !== current.ops) return `it was made with ${m.ops}; this is ${current.ops}`;
  for (const h of m.hosts) {
    let dir: string;
    try {
      dir = current.baseDirOf(h.release);
    } catch {
      return `${h.name} runs ${h.release}, which this ops cannot boot`;
    }
    if (h.base.dir !== dir) return `${h.name} was made on the base image ${h.base.dir}; this ops uses ${dir}`;
    if (!existsSync(join(dir, 'etc/os-release'))) return `the base image ${h.base.dir} of ${h.name} is not on this machine any more`;
    const id = baseImageId(dir);
    if (id !== h.base.id) return `its base image was rebuilt since (made on ${h.base.id}, now ${id})`;
    for (const l of h.layers) if (!existsSync(l)) return `the layer ${l} of ${h.name} is missing (was a snapshot it was built on removed?)`;
  }
  return undefined;
}

/** The complete, usable manifest of `name`, or a usage error saying why not. */
export function usableSnapshot(name: string): SnapshotManifest {
  checkSnapshotName(name);
  const dir = snapshotDir(name);
  if (!existsSync(dir)) {
    throw new UsageError(`there is no lab snapshot '${name}'`, 'see `ops lab snapshot list`; make one with `ops lab snapshot save NAME`');
  }
  const m = readManifest(name);
  if (!m) throw new UsageError(`lab snapshot '${name}' is incomplete (its save did not finish)`, `remove it with \`ops lab snapshot rm ${name}\` and save it again`);
  const why = snapshotProblem(m);
  if (why) throw new UsageError(`lab snapshot '${name}' cannot be used: ${why}`, `remove it (\`ops lab snapshot rm ${name}\`), converge the lab again and save a new one`);
  return m;
}

/** Files of the repo's .ops/ that belong to an environment: its overlay pillar and its keys. */
export function envStateFiles(repo: Repo, env: string): string[] {
  const out: string[] = [];
  const under = (dir: string, match: (f: string) => boolean): void => {
    try {
      for (const f of readdirSync(dir, { withFileTypes: true })) if (f.isFile() && match(f.name)) out.push(join(dir, f.name));
    } catch {
      // absent
    }
  };
  under(repo.overlayDir, (f) => f === `${env}.yml` || f === `${env}.sls`);
  under(join(repo.overlayDir, 'keys'), (f) => f.startsWith(`${env}.`));
  under(repo.keysDir, (f) => f.startsWith(`${env}.`));
  return out.map((p) => relative(repo.stateDir, p)).sort();
}

/** Whether a file of `.ops/` (as envStateFiles names it) belongs to `env`. */
function isEnvFile(rel: string, env: string): boolean {
  const dir = dirname(rel);
  const base = basename(rel);
  if (dir === 'pillar') return base === `${env}.yml` || base === `${env}.sls`;
  return (dir === join('pillar', 'keys') || dir === 'keys') && base.startsWith(`${env}.`);
}

function sameFile(a: string, b: string): boolean {
  try {
    return readFileSync(a).equals(readFileSync(b));
  } catch {
    return false;
  }
}

/**
 * Puts the snapshot's files of `envs` into the repo's .ops/ (overlay pillar, keys). Files of those envs that
 * differ from the snapshot's are moved aside, never lost; returns where they went, if anywhere.
 */
export function restoreEnvFiles(repo: Repo, m: SnapshotManifest, envs: readonly string[], from = snapshotDir(m.name)): string | undefined {
  ensureStateDir(repo);
  const aside = join(repo.stateDir, 'replaced', `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${m.name}`);
  let moved = false;
  for (const env of envs) {
    const want = new Set(m.files.filter((f) => isEnvFile(f, env)));
    for (const rel of envStateFiles(repo, env)) {
      const here = join(repo.stateDir, rel);
      if (want.has(rel) && sameFile(here, join(from, 'repo', rel))) continue;
      mkdirSync(dirname(join(aside, rel)), { recursive: true, mode: 0o700 });
      renameSync(here, join(aside, rel));
      moved = true;
    }
    for (const rel of want) {
      const to = join(repo.stateDir, rel);
      mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
      copyFileSync(join(from, 'repo', rel), to);
    }
  }
  return moved ? aside : undefined;
}

/** Renames a folder; copies (keeping owners, modes, xattrs and overlay whiteouts) when it crosses file systems. */
async function moveDir(from: string, to: string): Promise<void> {
  mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
  try {
    renameSync(from, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await run('cp', ['-a', '--preserve=xattr', '--', from, to], { timeout: 60 * 60_000 });
    await removeTree(from);
  }
}

/** The pid of a machine's init (PID 1 inside it), from its cgroup. */
function initPid(machine: string): number | undefined {
  for (const pid of machineProcesses(machine)) {
    try {
      const ns = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.trim().split(/\s+/) ?? [];
      if (ns.length > 1 && ns[ns.length - 1] === '1') return pid;
    } catch {
      // ended meanwhile
    }
  }
  return undefined;
}

function nsenter(pid: number, argv: string[], timeoutMs: number): Promise<{ code: number; stdout: string }> {
  return tryRun('nsenter', ['-t', String(pid), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '--', ...argv], { timeout: timeoutMs });
}

/**
 * Waits until systemd inside the host has finished booting (its services started, as after a server's
 * reboot), up to `timeoutMs`. Failed units are reported, not fatal: the tests and the operator look at them.
 */
export async function waitBooted(h: LabHostRecord, timeoutMs: number, log: LabLog): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pid = initPid(h.machine);
  while (pid === undefined && Date.now() < deadline) {
    await sleep(100);
    pid = initPid(h.machine);
  }
  if (pid === undefined) throw new OperationError(`${h.name}: cannot find its init process (log: ${h.log})`);
  const r = await nsenter(pid, ['systemctl', 'is-system-running', '--wait'], Math.max(1000, deadline - Date.now())).catch((e: unknown) => {
    throw new OperationError(`${h.name}: systemd did not finish booting within ${Math.round(timeoutMs / 1000)} s (${errorMessage(e)})`);
  });
  const state = r.stdout.trim();
  if (state === 'running') return;
  if (state === 'degraded') {
    const failed = await nsenter(pid, ['systemctl', '--failed', '--plain', '--no-legend'], 10_000);
    log(`${h.name}: booted with failed units: ${failed.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]).join(', ')}`);
    return;
  }
  throw new OperationError(`${h.name}: systemd did not finish booting within ${Math.round(timeoutMs / 1000)} s (state: ${state || 'unknown'})`);
}

/** Shuts a running host down cleanly, moves its upper layer to `layer`, and boots it again on top of it. */
async function moveHostDisk(repo: Repo, state: LabState, h: LabHostRecord, layer: string, authorizedKey: string, log: LabLog): Promise<void> {
  await shutDown(h);
  writeState(repo, state);
  const root = rootOf(h.dir);
  removeNspawnLock(root);
  await unmountUnder(root);
  await moveDir(upperOf(h.dir), layer);
  h.layers = [layer, ...(h.layers ?? [])];
  writeState(repo, state);
  await removeTree(workOf(h.dir));
  await bootHost(repo, state, h, authorizedKey, 180_000, log);
}

function readLabKey(repo: Repo): string {
  try {
    return readFileSync(join(repo.stateDir, 'lab', 'id_ed25519.pub'), 'utf8').trim();
  } catch {
    throw new OperationError(`the lab key ${join(repo.stateDir, 'lab', 'id_ed25519.pub')} is missing`, 'run `ops lab up` first');
  }
}

/** `ops lab snapshot save NAME [--env E]`: keeps the disks of the lab's hosts (of one env, or all). */
export async function saveSnapshot(repo: Repo, opts: { name: string; env?: string; log: LabLog }): Promise<SnapshotManifest> {
  labPreflight();
  const { name, env, log } = opts;
  checkSnapshotName(name);
  if (env !== undefined) checkEnvName(env);
  const id = instanceIdFor(repo.root);
  return withLabLock(log, async () => {
    const state = readState(repo, id);
    const hosts = (state?.hosts ?? []).filter((h) => env === undefined || h.env === env);
    if (!state || hosts.length === 0) {
      throw new UsageError(env === undefined ? 'this repo has no lab hosts to snapshot' : `lab env '${env}' has no hosts to snapshot`, 'start them with `ops lab up`');
    }
    const dir = snapshotDir(name);
    if (existsSync(dir)) {
      throw new UsageError(`lab snapshot '${name}' exists already${readManifest(name) ? '' : ' (incomplete)'}`, `pick another name, or remove it first: ops lab snapshot rm ${name}`);
    }
    const down = hosts.filter((h) => !isMachinePid(h.pid, h.machine));
    if (down.length > 0) throw new OperationError(`lab host(s) not running: ${down.map((h) => h.name).join(', ')}`, 'bring them back with `ops lab up` before saving');
    for (const h of hosts) if (!existsSync(join(baseOf(h), 'etc/os-release'))) throw new OperationError(`the base image ${baseOf(h)} of ${h.name} is missing`);
    const authorizedKey = readLabKey(repo);
    const started = Date.now();
    const envs = [...new Set(hosts.map((h) => h.env))];

    mkdirSync(SNAPSHOT_DIR, { recursive: true, mode: 0o700 });
    chmodSync(SNAPSHOT_DIR, 0o700);
    mkdirSync(dir, { mode: 0o700 });
    const files = envs.flatMap((e) => envStateFiles(repo, e));
    for (const f of files) {
      const to = join(dir, 'repo', f);
      mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
      copyFileSync(join(repo.stateDir, f), to);
    }

    log(`saving ${hosts.map((h) => h.name).join(', ')}: each host shuts down, its disk becomes a layer of '${name}', and it boots again on it`);
    const results = await Promise.allSettled(hosts.map((h) => moveHostDisk(repo, state, h, join(dir, 'hosts', h.name, 'layer'), authorizedKey, log)));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${hosts[i]?.name}: ${errorMessage(r.reason)}`] : []));
    if (failed.length > 0) {
      throw new OperationError(`saving lab snapshot '${name}' failed — ${failed.join('; ')}`, `the hosts keep their disks; the incomplete snapshot is removed by \`ops lab snapshot rm ${name}\` once no host uses it (\`ops lab down\`)`);
    }
    await Promise.all(hosts.map((h) => waitBooted(h, 300_000, log)));

    const manifest: SnapshotManifest = {
      version: 1,
      name,
      created: new Date().toISOString(),
      ops: opsIdentity(),
      subnet: state.subnet,
      envs,
      hosts: hosts.map((h) => ({ env: h.env, name: h.name, slot: h.slot, address: h.address, hostKey: h.hostKey ?? '', layers: h.layers ?? [], release: h.release, base: { dir: baseOf(h), id: baseImageId(baseOf(h)) } })),
      files,
      source: repo.root,
    };
    const tmp = `${manifestPath(name)}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, manifestPath(name));
    log(`lab snapshot '${name}' saved (${hosts.length} host(s), ${envs.join(', ')}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return manifest;
  });
}

export interface SnapshotInfo {
  name: string;
  manifest?: SnapshotManifest;
  /** why it cannot be used now (incomplete, other ops, base changed, layer missing) */
  problem?: string;
  /** mount points of lab hosts that run on its layers */
  inUse: string[];
  /** snapshots whose hosts are built on its layers */
  children: string[];
  sizeKiB?: number;
}

function snapshotNames(): string[] {
  try {
    return readdirSync(SNAPSHOT_DIR, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

/** Mount points whose overlay options name a folder inside `dir` (a lab host using its layers). */
function mountsUsing(dir: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.split(' ')[2] === 'overlay' && (l.split(' ')[3] ?? '').includes(`${dir}/`))
    .map((l) => l.split(' ')[1] ?? '');
}

async function sizeKiB(dir: string): Promise<number | undefined> {
  const r = await tryRun('du', ['-sk', '--', dir], { timeout: 120_000 });
  const n = Number(r.stdout.split(/\s/)[0]);
  return Number.isFinite(n) && r.stdout.trim() !== '' ? n : undefined;
}

export async function listSnapshots(opts: { size?: boolean } = {}): Promise<SnapshotInfo[]> {
  const names = snapshotNames();
  const manifests = new Map(names.map((n) => [n, readManifest(n)]));
  const current = { ops: opsIdentity(), baseDirOf: (release: string) => baseDirFor(labRelease(release).codename) };
  return Promise.all(
    names.map(async (name) => {
      const m = manifests.get(name);
      const dir = snapshotDir(name);
      const info: SnapshotInfo = {
        name,
        inUse: mountsUsing(dir),
        children: names.filter((o) => o !== name && (manifests.get(o)?.hosts ?? []).some((h) => h.layers.some((l) => l.startsWith(`${dir}/`)))),
      };
      if (m) info.manifest = m;
      const problem = m ? snapshotProblem(m, current) : 'incomplete (its save did not finish)';
      if (problem) info.problem = problem;
      if (opts.size) {
        const s = await sizeKiB(dir);
        if (s !== undefined) info.sizeKiB = s;
      }
      return info;
    }),
  );
}

/** `ops lab snapshot rm NAME`: refused while a lab host runs on it or another snapshot is built on it. */
export async function removeSnapshot(opts: { name: string; log: LabLog }): Promise<void> {
  labPreflight();
  checkSnapshotName(opts.name);
  const dir = snapshotDir(opts.name);
  await withLabLock(opts.log, async () => {
    if (!existsSync(dir)) throw new UsageError(`there is no lab snapshot '${opts.name}'`, 'see `ops lab snapshot list`');
    const info = (await listSnapshots()).find((s) => s.name === opts.name);
    if (info && info.inUse.length > 0) {
      throw new UsageError(`lab snapshot '${opts.name}' is in use by ${info.inUse.length} running lab host(s) (${info.inUse.join(', ')})`, 'stop them first: `ops lab down` in their repo');
    }
    if (info && info.children.length > 0) {
      throw new UsageError(`lab snapshot '${opts.name}' has snapshots built on it: ${info.children.join(', ')}`, 'remove those first');
    }
    if (mountsUnder(dir).length > 0) await unmountUnder(dir);
    await removeTree(dir);
    opts.log(`lab snapshot '${opts.name}' removed`);
  });
}
