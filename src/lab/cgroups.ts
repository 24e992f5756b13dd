/**
 * One cgroup per lab machine. Without systemd as PID 1, systemd-nspawn puts itself into `<its cgroup>/supervisor`
 * and the container into `<its cgroup>/payload`; started from the root cgroup every container would share one
 * `/payload` tree. So each nspawn process is started inside `<hierarchy>/ops-lab/<machine>` of its own, which also
 * lets us find (and kill) every process of a machine, even orphans whose nspawn parent is gone.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CGROUP_PARENT } from './names.js';
import { signal } from './processes.js';

/** Mount points of the hierarchies systemd uses: the cgroup2 tree and, on hybrid/v1 hosts, `name=systemd`. */
export function cgroupRoots(): string[] {
  const roots: string[] = [];
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return roots;
  }
  for (const line of mounts.split('\n')) {
    const [, mnt, type, opts] = line.split(' ');
    if (!mnt || !type) continue;
    if (type === 'cgroup2' || (type === 'cgroup' && (opts ?? '').split(',').includes('name=systemd'))) {
      if (!roots.includes(mnt)) roots.push(mnt);
    }
  }
  return roots;
}

export function machineCgroups(machine: string): string[] {
  return cgroupRoots().map((r) => join(r, CGROUP_PARENT, machine));
}

/** Creates the machine's cgroups; returns the `cgroup.procs` files a process must join. */
export function createMachineCgroups(machine: string): string[] {
  return machineCgroups(machine).map((dir) => {
    mkdirSync(dir, { recursive: true });
    return join(dir, 'cgroup.procs');
  });
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

function procsUnder(dir: string, into: Set<number>): void {
  try {
    for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) {
      const n = Number(l.trim());
      if (l.trim() && Number.isInteger(n) && n > 0) into.add(n);
    }
  } catch {
    return;
  }
  for (const d of subdirs(dir)) procsUnder(d, into);
}

/** Every process in the machine's cgroups (any depth). */
export function machineProcesses(machine: string): number[] {
  const pids = new Set<number>();
  for (const dir of machineCgroups(machine)) procsUnder(dir, pids);
  return [...pids];
}

/** Kills every process of the machine (cgroup.kill where the kernel has it, SIGKILL to each pid otherwise). */
export function killMachineCgroup(machine: string): void {
  for (const dir of machineCgroups(machine)) {
    const killFile = join(dir, 'cgroup.kill');
    if (existsSync(killFile)) {
      try {
        writeFileSync(killFile, '1');
      } catch {
        // fall through to per-process kill
      }
    }
  }
  for (const pid of machineProcesses(machine)) signal(pid, 'SIGKILL');
}

function removeTree(dir: string): void {
  for (const d of subdirs(dir)) removeTree(d);
  try {
    rmdirSync(dir);
  } catch {
    // busy (processes left) or already gone
  }
}

/** Removes the machine's (empty) cgroups. */
export function removeMachineCgroups(machine: string): void {
  for (const dir of machineCgroups(machine)) removeTree(dir);
}

/** Names of all machines that have a cgroup, of any ops instance. */
export function cgroupMachines(): string[] {
  const names = new Set<string>();
  for (const r of cgroupRoots()) {
    for (const d of subdirs(join(r, CGROUP_PARENT))) names.add(d.slice(d.lastIndexOf('/') + 1));
  }
  return [...names];
}

/** Removes `ops-lab/` itself when no machine is left in it. */
export function removeCgroupParentIfEmpty(): void {
  for (const r of cgroupRoots()) {
    try {
      rmdirSync(join(r, CGROUP_PARENT));
    } catch {
      // not empty or absent
    }
  }
}
