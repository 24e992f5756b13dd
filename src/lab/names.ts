/**
 * Names and paths of every lab object. Each carries the instance id (a short hash of the repo root), so two
 * clones of an ops repo never share a bridge, namespace, link, machine, mount or folder, and leftovers can be
 * recognised by name alone.
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { checkEnvironmentName } from '../pillar/forms.js';

/** Machine-wide caches that outlive any clone (base image, apt packages). */
export const CACHE_DIR = '/var/cache/ops-lab';
/** Machine-wide runtime folders of lab instances (overlay layers and mount points), one folder per instance. */
export const VAR_DIR = '/var/lib/ops-lab';
/** Bump when the base recipe changes (each release has a base of its own: base-<codename>-<version>). */
export const BASE_VERSION = 'v2';

/** The cached base image of a Debian release (its codename), outside any clone. */
export function baseDirFor(codename: string): string {
  return join(CACHE_DIR, `base-${codename}-${BASE_VERSION}`);
}
export const APT_CACHE_DIR = join(CACHE_DIR, 'apt');
/** Converged lab snapshots (`ops lab snapshot save`): one folder each, outside any clone like the base. */
export const SNAPSHOT_DIR = join(CACHE_DIR, 'snapshots');
export const DEBIAN_MIRROR_HOST = 'deb.debian.org';
export const DEBIAN_MIRROR = `http://${DEBIAN_MIRROR_HOST}/debian`;
export const APT_PROXY_PORT = 3142;
/** Sub-folder of each cgroup hierarchy that holds one cgroup per lab machine. */
export const CGROUP_PARENT = 'ops-lab';

const ID_LEN = 6;
export const INSTANCE_ID_RE = /^[0-9a-f]{6}$/;

export function instanceIdFor(repoRoot: string): string {
  let p = repoRoot;
  try {
    p = realpathSync(repoRoot);
  } catch {
    // a missing root still gets a stable id from its spelling
  }
  return createHash('sha256').update(p).digest('hex').slice(0, ID_LEN);
}

export function instanceDir(id: string): string {
  return join(VAR_DIR, id);
}

/** Linux bridge of an instance (≤ 15 chars). */
export function bridgeName(id: string): string {
  return `opsbr-${id}`;
}

/** Host side of a host's veth pair, by address slot (≤ 15 chars). */
export function vethName(id: string, slot: number): string {
  return `opsv-${id}-${slot}`;
}

/** Network namespace, machine name and cgroup name of a host. */
export function machineName(id: string, hostName: string): string {
  return `ops-${id}-${hostName}`;
}

export function hostName(env: string, index: number): string {
  return `${env}-${index}`;
}

export function hostDir(id: string, hostName: string): string {
  return join(instanceDir(id), 'hosts', hostName);
}

/** Object names parsed back to their instance id (for leftovers of any ops instance). */
export const BRIDGE_RE = /^opsbr-([0-9a-f]{6})$/;
export const VETH_RE = /^opsv-([0-9a-f]{6})-(\d+)$/;
export const MACHINE_RE = /^ops-([0-9a-f]{6})-([a-z][a-z0-9-]*)-(\d+)$/;

/** Lab env names are environment names (host, namespace and file names are made of them). */
export function checkEnvName(env: string): void {
  checkEnvironmentName(env, 'lab env name');
}

/** Snapshot names become folder names and overlay mount options (no ',' or ':'): keep them plain. */
export const SNAPSHOT_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function checkSnapshotName(name: string): void {
  if (!SNAPSHOT_NAME_RE.test(name) || name.includes('..')) {
    throw new UsageError(
      `snapshot name '${name}' is not usable: use lowercase letters, digits, '.', '_' or '-', starting with a letter or digit (max 63)`,
    );
  }
}

export function snapshotDir(name: string): string {
  return join(SNAPSHOT_DIR, name);
}
