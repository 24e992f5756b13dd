/**
 * A host's root file system: an overlay over the shared base, with the identity of its own — SSH host keys,
 * machine-id, hostname — root's authorized key, apt through the lab proxy, and /etc/hosts naming the lab hosts.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError } from '../errors.js';
import { run } from './exec.js';
import { isMounted, mountOverlay } from './mounts.js';
import { DEBIAN_MIRROR, DEBIAN_MIRROR_HOST } from './names.js';

const HOST_KEY_TYPES = ['ed25519', 'ecdsa'] as const;

export interface HostsEntry {
  address: string;
  name: string;
}

export interface HostRootSpec {
  dir: string;
  name: string;
  /** read-only layers under the host's own upper layer, top first: snapshot layers, then the base */
  lowers: readonly string[];
  /** the Debian release's codename (apt sources) */
  codename: string;
  gateway: string;
  proxyPort: number;
  authorizedKey: string;
  hosts: readonly HostsEntry[];
}

export function rootOf(dir: string): string {
  return join(dir, 'root');
}

export function hostsFileText(self: string, hosts: readonly HostsEntry[]): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    '',
    '# lab hosts (written by ops lab up)',
    ...hosts.map((h) => `${h.address}\t${h.name}`),
  ];
  if (!hosts.some((h) => h.name === self)) lines.push(`127.0.1.1\t${self}`);
  return `${lines.join('\n')}\n`;
}

/** Rewrites /etc/hosts of a mounted host root when it differs; returns whether it changed. */
export function syncHostsFile(dir: string, self: string, hosts: readonly HostsEntry[]): boolean {
  const p = join(rootOf(dir), 'etc/hosts');
  const want = hostsFileText(self, hosts);
  let have = '';
  try {
    have = readFileSync(p, 'utf8');
  } catch {
    // missing
  }
  if (have === want) return false;
  writeFileSync(p, want);
  return true;
}

function write(root: string, rel: string, text: string, mode = 0o644): void {
  const p = join(root, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text, { mode });
  chmodSync(p, mode);
}

/** `ssh-ed25519 AAAA…` (no comment) of a host root. */
export function readHostKey(dir: string): string {
  const p = join(rootOf(dir), 'etc/ssh/ssh_host_ed25519_key.pub');
  const parts = readFileSync(p, 'utf8').trim().split(/\s+/);
  if (parts[0] !== 'ssh-ed25519' || !parts[1]) throw new OperationError(`unexpected host key in ${p}`);
  return `${parts[0]} ${parts[1]}`;
}

function readOr(p: string, fallback: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return fallback;
  }
}

export function upperOf(dir: string): string {
  return join(dir, 'upper');
}

export function workOf(dir: string): string {
  return join(dir, 'work');
}

/**
 * Mounts the host's overlay root (creating its layers) and gives it its own identity. An identity the disk
 * already has (a host booted from a snapshot) is kept: machine-id, host keys, and every authorized key.
 */
export async function prepareHostRoot(spec: HostRootSpec): Promise<void> {
  const upper = upperOf(spec.dir);
  const work = workOf(spec.dir);
  const root = rootOf(spec.dir);
  for (const d of [upper, work, root]) mkdirSync(d, { recursive: true, mode: 0o755 });
  if (!isMounted(root)) await mountOverlay(spec.lowers, upper, work, root);

  if (readOr(join(root, 'etc/machine-id'), '').trim() === '') write(root, 'etc/machine-id', `${randomBytes(16).toString('hex')}\n`, 0o444);
  write(root, 'etc/hostname', `${spec.name}\n`);
  write(root, 'etc/hosts', hostsFileText(spec.name, spec.hosts));
  write(root, 'etc/resolv.conf', '# lab host: no DNS; apt goes through the lab proxy\n');

  const proxy = `http://${spec.gateway}:${spec.proxyPort}`;
  write(
    root,
    'etc/apt/sources.list',
    [
      `deb ${DEBIAN_MIRROR} ${spec.codename} main`,
      `deb ${DEBIAN_MIRROR} ${spec.codename}-updates main`,
      `deb http://${DEBIAN_MIRROR_HOST}/debian-security ${spec.codename}-security main`,
      '',
    ].join('\n'),
  );
  write(root, 'etc/apt/apt.conf.d/01ops-lab-proxy', `// written by ops lab up\nAcquire::http::Proxy "${proxy}";\n`);

  mkdirSync(join(root, 'root/.ssh'), { recursive: true, mode: 0o700 });
  chmodSync(join(root, 'root/.ssh'), 0o700);
  const keys = readOr(join(root, 'root/.ssh/authorized_keys'), '');
  if (!keys.split('\n').some((l) => l.trim() === spec.authorizedKey.trim())) {
    write(root, 'root/.ssh/authorized_keys', `${keys}${keys && !keys.endsWith('\n') ? '\n' : ''}${spec.authorizedKey.trim()}\n`, 0o600);
  }

  // host keys of its own (the base has none). No RSA key: generating one costs ~1 s of CPU per host,
  // which dominated the start of 10 hosts; sshd is told to use exactly these two.
  const sshDir = join(root, 'etc/ssh');
  for (const type of HOST_KEY_TYPES) {
    const file = join(sshDir, `ssh_host_${type}_key`);
    if (!existsSync(file)) await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `root@${spec.name}`, '-f', file]);
  }
  write(
    root,
    'etc/ssh/sshd_config.d/ops-lab-host-keys.conf',
    `# written by ops lab up\n${HOST_KEY_TYPES.map((t) => `HostKey /etc/ssh/ssh_host_${t}_key`).join('\n')}\n`,
  );
}
