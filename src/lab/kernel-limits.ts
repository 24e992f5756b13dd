/**
 * Kernel limits many booted systemd instances run into. Every lab host's systemd (and journald, udev…) uses
 * inotify instances of uid 0; with the kernel default of 128 per user, hosts beyond ~20 fail to boot with
 * "Failed to allocate manager object: Too many open files". Limits are only ever raised, never lowered.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const LIMITS: ReadonlyArray<readonly [string, number]> = [
  ['/proc/sys/fs/inotify/max_user_instances', 8192],
  ['/proc/sys/fs/inotify/max_user_watches', 524288],
];

export function raiseKernelLimits(log: (line: string) => void): void {
  for (const [path, want] of LIMITS) {
    let have: number;
    try {
      have = Number(readFileSync(path, 'utf8').trim());
    } catch {
      continue;
    }
    if (!Number.isFinite(have) || have >= want) continue;
    const name = path.slice('/proc/sys/'.length).replace(/\//g, '.');
    try {
      writeFileSync(path, String(want));
      log(`raised ${name} from ${have} to ${want} (each lab host's systemd needs several)`);
    } catch (e) {
      log(`warning: cannot raise ${name} from ${have} (${(e as Error).message}); more than ~20 hosts may fail to boot`);
    }
  }
}
