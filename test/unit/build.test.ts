/**
 * The build (scripts/build.mjs) swaps the bundle in at once: an ops started while it runs finds a
 * whole bundle, the old one or the new one, and the link dist points at a complete build.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/ops.js';

const version = () =>
  new Promise<{ code: number | null; out: string }>((resolve) => {
    const c = spawn(process.execPath, [join(ROOT, 'dist/ops.mjs'), '--version']);
    let out = '';
    c.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    c.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    c.on('close', (code) => resolve({ code, out: out.trim() }));
  });

describe('the build', () => {
  it('an ops started during two rebuilds always runs a whole bundle', async () => {
    const before = lstatSync(join(ROOT, 'dist')).isSymbolicLink() ? readlinkSync(join(ROOT, 'dist')) : undefined;
    let building = true;
    const runs: { code: number | null; out: string }[] = [];
    const loop = (async () => {
      while (building) runs.push(...(await Promise.all([version(), version()])));
    })();
    for (let i = 0; i < 2; i++) await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/build.mjs')]);
    building = false;
    await loop;
    expect(runs.length).toBeGreaterThan(2);
    expect(runs.filter((r) => r.code !== 0 || !/^\d+\.\d+\.\d+$/.test(r.out))).toEqual([]);
    const dist = join(ROOT, 'dist');
    expect(lstatSync(dist).isSymbolicLink()).toBe(true);
    expect(readlinkSync(dist)).toMatch(/^\.dist-builds\/[0-9TZ]+-\d+$/);
    expect(existsSync(join(dist, 'ops.mjs')) && existsSync(join(dist, 'templates'))).toBe(true);
    // the build an ops started before may still be running from stays (builds of the last day are kept)
    expect(readlinkSync(dist)).not.toBe(before);
    if (before) expect(readdirSync(join(ROOT, '.dist-builds'))).toContain(before.replace('.dist-builds/', ''));
  }, 60_000);
});
