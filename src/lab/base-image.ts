/**
 * The shared, read-only root of a Debian release every lab host of that release overlays: debootstrap minbase plus systemd, sshd and
 * python3, built once per machine under /var/cache/ops-lab. It is built in a temporary folder and renamed into
 * place when complete, so an interrupted build never leaves a half base behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { join } from 'node:path';
import { OperationError } from '../errors.js';
import { tryRun } from './exec.js';
import { removeTree } from './mounts.js';
import type { OsRelease } from '../platform/releases.js';
import { baseDirFor, CACHE_DIR, DEBIAN_MIRROR, SNAPSHOT_DIR } from './names.js';

export const BASE_PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'openssh-server', 'python3', 'iproute2', 'ca-certificates', 'sudo'];

/** Timers that would run apt in the background and hold the dpkg lock while tests install packages. */
const MASKED_UNITS = ['apt-daily.timer', 'apt-daily-upgrade.timer', 'apt-daily.service', 'apt-daily-upgrade.service'];

function removeIfPresent(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // absent
  }
}

const DPKG_LAB_CONFIG = [
  '# written by ops lab (base image)',
  'force-unsafe-io',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  '',
].join('\n');

/** Makes the fresh debootstrap tree a neutral base: no host identity (each host gets its own), no package cache. */
function neutralise(root: string): void {
  const sshDir = join(root, 'etc/ssh');
  for (const f of readdirSync(sshDir)) {
    if (f.startsWith('ssh_host_')) removeIfPresent(join(sshDir, f));
  }
  writeFileSync(join(root, 'etc/machine-id'), '');
  removeIfPresent(join(root, 'var/lib/dbus/machine-id'));
  mkdirSync(join(root, 'var/lib/dbus'), { recursive: true });
  symlinkSync('/etc/machine-id', join(root, 'var/lib/dbus/machine-id'));
  writeFileSync(join(root, 'etc/hostname'), 'localhost\n');
  removeIfPresent(join(root, 'etc/resolv.conf'));
  writeFileSync(join(root, 'etc/resolv.conf'), '# lab host: no DNS; apt goes through the lab proxy\n');
  const archives = join(root, 'var/cache/apt/archives');
  for (const f of readdirSync(archives)) {
    if (f.endsWith('.deb')) removeIfPresent(join(archives, f));
  }
  rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
  mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  // Installs in lab hosts are what most test time is spent on: dpkg skips the fsyncs (the lab's disks
  // live in this machine's page cache, whose kernel outlives every lab host, so they buy nothing here)
  // and the docs, manuals and translations nothing in a lab host reads — as Debian's own slim container
  // images do. What packages install and run is unchanged.
  writeFileSync(join(root, 'etc/dpkg/dpkg.cfg.d/01ops-lab'), DPKG_LAB_CONFIG);
  for (const unit of MASKED_UNITS) {
    const p = join(root, 'etc/systemd/system', unit);
    removeIfPresent(p);
    symlinkSync('/dev/null', p);
  }
}

/**
 * What a layer made on top of a base depends on: the recipe (the folder's name) and the exact packages in it
 * (dpkg's status file). A base rebuilt with other package versions gets another id, so snapshots made on the
 * old one are refused rather than mixed with it.
 */
export function baseImageId(dir: string): string {
  let status = '';
  try {
    status = readFileSync(join(dir, 'var/lib/dpkg/status'), 'utf8');
  } catch {
    status = '';
  }
  return `${basename(dir)}:${createHash('sha256').update(status).digest('hex').slice(0, 16)}`;
}

/** Whether a lab host's overlay or a snapshot's manifest still names `dir`. */
function baseInUse(dir: string): boolean {
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8');
    if (mounts.includes(`${dir}:`) || mounts.includes(`${dir},`)) return true;
  } catch {
    return true;
  }
  try {
    for (const name of readdirSync(SNAPSHOT_DIR)) {
      try {
        if (readFileSync(join(SNAPSHOT_DIR, name, 'manifest.json'), 'utf8').includes(JSON.stringify(dir))) return true;
      } catch {
        // an incomplete snapshot
      }
    }
  } catch {
    // no snapshots
  }
  return false;
}

/** Earlier recipes of this release's base (`base-<codename>-v<n>`) that nothing uses any more. */
async function removeOlderBases(current: string, codename: string, log: (line: string) => void): Promise<void> {
  for (const f of readdirSync(CACHE_DIR)) {
    if (f === basename(current) || !f.startsWith(`base-${codename}-v`)) continue;
    const dir = join(CACHE_DIR, f);
    if (baseInUse(dir)) continue;
    log(`removing the earlier base image ${dir}`);
    await removeTree(dir);
  }
}

/** Builds the base of a Debian release if it is not there yet; returns its folder. Needs the machine-wide lab lock. */
export async function ensureBaseImage(release: OsRelease, log: (line: string) => void): Promise<string> {
  const dir = baseDirFor(release.codename);
  if (existsSync(join(dir, 'etc/os-release'))) return dir;
  mkdirSync(CACHE_DIR, { recursive: true, mode: 0o755 });
  // leftovers of interrupted builds (the lock guarantees no build is running)
  const baseName = basename(dir);
  for (const f of readdirSync(CACHE_DIR)) {
    if (f.startsWith(`.${baseName}.tmp-`)) await removeTree(join(CACHE_DIR, f));
  }
  if (existsSync(dir)) await removeTree(dir);

  log(`building the ${release.name} base image (once per machine, ~1–2 min) in ${dir}…`);
  const started = Date.now();
  const tmp = join(CACHE_DIR, `.${baseName}.tmp-${process.pid}`);
  const logFile = join(CACHE_DIR, `base-build-${release.codename}.log`);
  const r = await tryRun(
    'debootstrap',
    ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, release.codename, tmp, DEBIAN_MIRROR],
    { timeout: 30 * 60_000 },
  );
  writeFileSync(logFile, r.stdout + r.stderr);
  if (r.code !== 0) {
    await removeTree(tmp);
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n');
    throw new OperationError(`building the ${release.name} base image failed (debootstrap exit ${r.code}): ${tail}`, `full output: ${logFile}`);
  }
  neutralise(tmp);
  renameSync(tmp, dir);
  await removeOlderBases(dir, release.codename, log);
  log(`base image built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return dir;
}
