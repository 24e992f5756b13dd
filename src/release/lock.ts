/**
 * One deploy at a time per environment: a lock file on the master recording who, when, what.
 * A second deploy waits (--wait-lock) or refuses naming the holder; a lock whose holder is gone
 * is reported as stale and only broken on request (--force-unlock), never silently. The holder is
 * gone when its process is, when the pid now belongs to another process (its start time differs), or
 * when the master booted since (a power cut mid-deploy): the lock records the boot id and the start time.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { OperationError } from '../errors.js';
import { MASTER_WORK } from '../converge/paths.js';

export interface LockInfo {
  pid: number;
  host: string;
  user: string;
  what: string;
  since: string;
  /** /proc/sys/kernel/random/boot_id when it was taken */
  boot?: string;
  /** the holder's start time, in clock ticks after boot (/proc/<pid>/stat field 22) */
  start?: string;
}

export interface LockOptions {
  env: string;
  user: string;
  what: string;
  waitSeconds?: number;
  forceUnlock?: boolean;
  log?: (line: string) => void;
  /** where the env folders are (the master's work folder) */
  root?: string;
}

export function lockFile(env: string, root = MASTER_WORK): string {
  return join(root, env, 'deploy.lock');
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold blanks and parentheses: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(l: LockInfo): boolean {
  if (l.boot !== undefined && l.boot !== bootId()) return false;
  try {
    process.kill(l.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return l.start === undefined || l.start === startTime(l.pid);
}

export function readLock(env: string, root = MASTER_WORK): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(lockFile(env, root), 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

function describe(l: LockInfo): string {
  return `${l.user} since ${l.since} (${l.what}, pid ${l.pid} on ${l.host})`;
}

export interface HeldLock {
  release(): void;
}

export async function acquireLock(opts: LockOptions): Promise<HeldLock> {
  const root = opts.root ?? MASTER_WORK;
  const file = lockFile(opts.env, root);
  mkdirSync(join(root, opts.env), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + (opts.waitSeconds ?? 0) * 1000;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      const info: LockInfo = { pid: process.pid, host: hostname(), user: opts.user, what: opts.what, since: new Date().toISOString(), boot: bootId(), start: startTime(process.pid) };
      writeSync(fd, JSON.stringify(info));
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          const cur = readLock(opts.env, root);
          if (cur && cur.pid === process.pid) unlinkSync(file);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readLock(opts.env, root);
    if (holder && holder.host === hostname() && !alive(holder)) {
      if (!opts.forceUnlock) {
        const why = holder.boot !== undefined && holder.boot !== bootId() ? `${hostname()} has booted since` : 'whose process is gone';
        throw new OperationError(`the deploy lock of '${opts.env}' is stale: held by ${describe(holder)}, ${why}`, 'if no deploy is running, break it with --force-unlock');
      }
      opts.log?.(`breaking the stale deploy lock of ${describe(holder)}`);
      if (existsSync(file)) unlinkSync(file);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new OperationError(`another deploy of '${opts.env}' is running: ${holder ? describe(holder) : 'unknown holder'}`, opts.waitSeconds ? 'it did not finish in time' : 'wait for it with --wait-lock [SECONDS]');
    }
    if (!announced && holder) {
      opts.log?.(`waiting for the deploy of ${describe(holder)}`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
