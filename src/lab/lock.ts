/**
 * One lab change at a time on this machine: `lab up` and `lab down` of every ops instance take this lock, since
 * they pick subnets, build the shared base and clear leftovers of other instances.
 */
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError } from '../errors.js';
import { VAR_DIR } from './names.js';
import { isAlive, sleep } from './processes.js';

const LOCK = join(VAR_DIR, 'lock');

function holder(): number | undefined {
  try {
    const n = Number(readFileSync(LOCK, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function tryTake(): boolean {
  try {
    const fd = openSync(LOCK, 'wx', 0o600);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

/** Runs `fn` holding the machine-wide lab lock; waits for another holder, breaks a dead holder's lock. */
export async function withLabLock<T>(log: (line: string) => void, fn: () => Promise<T>, waitMs = 20 * 60_000): Promise<T> {
  mkdirSync(VAR_DIR, { recursive: true, mode: 0o755 });
  const start = Date.now();
  const deadline = start + waitMs;
  let told = false;
  while (!tryTake()) {
    const pid = holder();
    if (pid === undefined || !isAlive(pid)) {
      // the holder is gone (or wrote nothing yet): move its lock aside atomically, then retry
      const aside = `${LOCK}.stale-${process.pid}`;
      try {
        if (pid !== undefined || Date.now() - start > 2000) {
          renameSync(LOCK, aside);
          unlinkSync(aside);
        }
      } catch {
        // someone else broke it first
      }
      await sleep(50);
      continue;
    }
    if (Date.now() > deadline) {
      throw new OperationError(`another ops lab command (pid ${pid}) has held the lab lock for too long`, `if it hangs: kill ${pid}`);
    }
    if (!told) {
      log(`waiting for another ops lab command (pid ${pid})…`);
      told = true;
    }
    await sleep(250);
  }
  try {
    return await fn();
  } finally {
    if (holder() === process.pid) {
      try {
        unlinkSync(LOCK);
      } catch {
        // already gone
      }
    }
  }
}
