import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pack, unpack } from '../../src/util/tar.js';

describe('tar', () => {
  const entries = [
    { path: 'pillar/project.yml', data: Buffer.from('project: demo\n'), mode: 0o644 },
    { path: `deep/${'d'.repeat(90)}/${'n'.repeat(60)}.txt`, data: Buffer.alloc(1500, 7), mode: 0o600 },
    { path: 'empty', data: Buffer.alloc(0), mode: 0o755 },
  ];

  it('round-trips', () => {
    expect(unpack(pack(entries))).toEqual(entries);
  });

  it('writes archives GNU tar extracts, and reads what GNU tar writes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ops-tar-'));
    writeFileSync(join(dir, 'a.tar'), pack(entries));
    execFileSync('tar', ['-xf', join(dir, 'a.tar'), '-C', dir]);
    expect(readFileSync(join(dir, entries[1]?.path ?? '')).equals(Buffer.alloc(1500, 7))).toBe(true);
    expect(statSync(join(dir, 'pillar/project.yml')).mode & 0o777).toBe(0o644);
    const gnu = execFileSync('tar', ['--format=ustar', '-cf', '-', '-C', dir, 'pillar/project.yml']);
    expect(unpack(gnu)).toEqual([entries[0]]);
  });

  it('refuses paths that leave the target folder', () => {
    const bad = pack([{ path: 'x/../../etc/passwd', data: Buffer.from('x'), mode: 0o644 }]);
    expect(() => unpack(bad)).toThrow(/unsafe path/);
  });
});
