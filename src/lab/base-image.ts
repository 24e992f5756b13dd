/**
 * The shared, read-only Debian 12 root every lab host overlays: debootstrap minbase plus systemd, sshd and
 * python3, built once per machine under /var/cache/ops-lab. It is built in a temporary folder and renamed into
 * place when complete, so an interrupted build never leaves a half base behind.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError } from '../errors.js';
import { tryRun } from './exec.js';
import { removeTree } from './mounts.js';
import { BASE_DIR, CACHE_DIR, DEBIAN_MIRROR, SUITE } from './names.js';

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
  for (const unit of MASKED_UNITS) {
    const p = join(root, 'etc/systemd/system', unit);
    removeIfPresent(p);
    symlinkSync('/dev/null', p);
  }
}

/** Builds the base if it is not there yet. Needs the machine-wide lab lock. */
export async function ensureBaseImage(log: (line: string) => void): Promise<string> {
  if (existsSync(join(BASE_DIR, 'etc/os-release'))) return BASE_DIR;
  mkdirSync(CACHE_DIR, { recursive: true, mode: 0o755 });
  // leftovers of interrupted builds (the lock guarantees no build is running)
  const baseName = BASE_DIR.slice(CACHE_DIR.length + 1);
  for (const f of readdirSync(CACHE_DIR)) {
    if (f.startsWith(`.${baseName}.tmp-`)) await removeTree(join(CACHE_DIR, f));
  }
  if (existsSync(BASE_DIR)) await removeTree(BASE_DIR);

  log(`building the Debian 12 base image (once per machine, ~1–2 min) in ${BASE_DIR}…`);
  const started = Date.now();
  const tmp = join(CACHE_DIR, `.${baseName}.tmp-${process.pid}`);
  const logFile = join(CACHE_DIR, 'base-build.log');
  const r = await tryRun(
    'debootstrap',
    ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`, SUITE, tmp, DEBIAN_MIRROR],
    { timeout: 30 * 60_000 },
  );
  writeFileSync(logFile, r.stdout + r.stderr);
  if (r.code !== 0) {
    await removeTree(tmp);
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n');
    throw new OperationError(`building the lab base image failed (debootstrap exit ${r.code}): ${tail}`, `full output: ${logFile}`);
  }
  neutralise(tmp);
  renameSync(tmp, BASE_DIR);
  log(`base image built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return BASE_DIR;
}
