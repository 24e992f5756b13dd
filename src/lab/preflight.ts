/** What `ops lab` needs from this machine: Linux, root, and a few Debian tools. */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { toolEnv } from './exec.js';

/** Tool → Debian package that provides it. */
const TOOLS: ReadonlyArray<readonly [string, string]> = [
  ['debootstrap', 'debootstrap'],
  ['systemd-nspawn', 'systemd-container'],
  ['ssh-keygen', 'openssh-client'],
  ['ip', 'iproute2'],
  ['mount', 'mount'],
  ['umount', 'mount'],
  ['nsenter', 'util-linux'],
];

export function findTool(name: string): string | undefined {
  for (const dir of (toolEnv().PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

export function labPreflight(): void {
  const why = 'ops lab needs root on Linux';
  if (process.platform !== 'linux') {
    throw new UsageError(`${why}: this is ${process.platform}`, 'run ops lab on a Linux machine (a VM is fine)');
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new UsageError(`${why}: you are not root`, 'run it as root, e.g. `sudo ops lab up`');
  }
  const missing = TOOLS.filter(([tool]) => !findTool(tool));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
    throw new UsageError(
      `${why}: missing ${missing.map(([t]) => t).join(', ')} (apt-get install ${pkgs.join(' ')})`,
      `install the tools with: apt-get install ${pkgs.join(' ')}`,
    );
  }
}
