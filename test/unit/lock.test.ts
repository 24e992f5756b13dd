/** The deploy lock: who holds it, and when a holder is gone (its process ended, its pid reused, or the master booted since). */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, lockFile, readLock } from '../../src/release/lock.js';

const root = mkdtempSync(join(tmpdir(), 'ops-lock-'));
const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const opts = (env: string, more: object = {}) => ({ env, user: 'me@here', what: 'deploy', root, ...more });

function plant(env: string, holder: object): void {
  mkdirSync(join(root, env), { recursive: true });
  writeFileSync(lockFile(env, root), JSON.stringify({ pid: process.pid, host: hostname(), user: 'ghost@there', what: 'deploy', since: '2026-01-01T00:00:00Z', ...holder }));
}

describe('deploy lock', () => {
  it('records the holder with its boot id and start time; released, it is gone', async () => {
    const lock = await acquireLock(opts('a'));
    const info = readLock('a', root);
    expect(info).toMatchObject({ pid: process.pid, host: hostname(), user: 'me@here', boot: bootId });
    expect(info?.start).toMatch(/^\d+$/);
    await expect(acquireLock(opts('a'))).rejects.toThrow(/another deploy of 'a' is running: me@here since .* \(deploy, pid \d+ on /);
    lock.release();
    expect(readLock('a', root)).toBeUndefined();
  });

  it('a holder whose process ended is stale, broken only with forceUnlock', async () => {
    plant('b', { pid: 999999, boot: bootId, start: '1' });
    await expect(acquireLock(opts('b'))).rejects.toThrow(/the deploy lock of 'b' is stale: held by ghost@there .*, whose process is gone/);
    const lines: string[] = [];
    const lock = await acquireLock(opts('b', { forceUnlock: true, log: (l: string) => lines.push(l) }));
    expect(lines.join('\n')).toMatch(/breaking the stale deploy lock of ghost@there/);
    expect(readLock('b', root)?.user).toBe('me@here');
    lock.release();
  });

  it('a lock from before the master booted is stale even when its pid runs again', async () => {
    plant('c', { boot: '00000000-0000-0000-0000-000000000000' });
    await expect(acquireLock(opts('c'))).rejects.toThrow(/stale: held by ghost@there .*, \S+ has booted since/);
  });

  it('a pid that now belongs to another process (other start time) is stale', async () => {
    plant('d', { boot: bootId, start: '1' });
    await expect(acquireLock(opts('d'))).rejects.toThrow(/stale: .*whose process is gone/);
  });

  it('a live holder (this process, its own start time) is not stale; an old lock without boot id still works', async () => {
    const mine = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
    const start = mine.slice(mine.lastIndexOf(')') + 2).split(' ')[19];
    plant('e', { boot: bootId, start });
    await expect(acquireLock(opts('e'))).rejects.toThrow(/another deploy of 'e' is running: ghost@there/);
    plant('f', {});
    await expect(acquireLock(opts('f'))).rejects.toThrow(/another deploy of 'f' is running/);
  });
});
