/**
 * One deploy at a time per environment: a lock file on the master recording who, when, what.
 * A second deploy waits (--wait-lock) or refuses naming the holder; a lock whose holder is gone
 * is reported as stale and only broken on request (--force-unlock), never silently.
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
}

export interface LockOptions {
  env: string;
  user: string;
  what: string;
  waitSeconds?: number;
  forceUnlock?: boolean;
  log?: (line: string) => void;
}

export function lockFile(env: string): string {
  return join(MASTER_WORK, env, 'deploy.lock');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readLock(env: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(lockFile(env), 'utf8')) as LockInfo;
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
  const file = lockFile(opts.env);
  mkdirSync(join(MASTER_WORK, opts.env), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + (opts.waitSeconds ?? 0) * 1000;
  let announced = false;
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      const info: LockInfo = { pid: process.pid, host: hostname(), user: opts.user, what: opts.what, since: new Date().toISOString() };
      writeSync(fd, JSON.stringify(info));
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          const cur = readLock(opts.env);
          if (cur && cur.pid === process.pid) unlinkSync(file);
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readLock(opts.env);
    if (holder && holder.host === hostname() && !alive(holder.pid)) {
      if (!opts.forceUnlock) {
        throw new OperationError(`the deploy lock of '${opts.env}' is stale: held by ${describe(holder)}, whose process is gone`, 'if no deploy is running, break it with --force-unlock');
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
