/**
 * Secrets of an environment whose key lives on its master: made there by setup-master, used there
 * by decrypt and rekey (without --key), never copied to the operator's machine.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesContaining } from '../support/files.js';
import { labDown, provisionLab, requireRoot } from '../support/lab.js';
import { ops, tempRepo } from '../support/ops.js';

let repo: string;
const canary = `canary-${Date.now()}-'"$ü`;
let made = '';

beforeAll(async () => {
  requireRoot();
  repo = tempRepo();
  await provisionLab(repo, { hosts: 1, minions: {} });
  const w = await ops(['encrypt', 'lab', 'DB_PASSWORD', '--write'], { cwd: repo, input: canary });
  expect(w.code, w.stderr).toBe(0);
});

afterAll(async () => {
  if (repo) await labDown(repo);
});

describe('a master-held environment key', () => {
  it('setup-master made the key on the master: only the public key is in the repo', () => {
    expect(readFileSync(join(repo, '.ops/pillar/keys/lab.asc'), 'utf8')).toMatch(/BEGIN PGP PUBLIC KEY BLOCK/);
    expect(existsSync(join(repo, '.ops/keys/lab.key'))).toBe(false);
    expect(filesContaining(repo, 'PRIVATE KEY BLOCK')).toEqual([]);
  });

  it('ops decrypt without --key decrypts on the master', async () => {
    const r = await ops(['decrypt', 'lab', 'DB_PASSWORD'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(canary);
  });

  it('ops rekey without --key makes a new key on the master, re-encrypts, and keeps the old key retired there', async () => {
    const before = readFileSync(join(repo, '.ops/pillar/keys/lab.asc'), 'utf8');
    const r = await ops(['rekey', 'lab'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/new key [0-9A-F]{40} made on the master; re-encrypted 1 value/);
    expect(readFileSync(join(repo, '.ops/pillar/keys/lab.asc'), 'utf8')).not.toBe(before);
    expect((await ops(['decrypt', 'lab', 'DB_PASSWORD'], { cwd: repo })).stdout).toBe(canary);
    const keys = await ops(['run', 'lab', '--host', 'lab-1', '--', 'ls /etc/ops/keys; stat -c %a /etc/ops/keys/lab.key'], { cwd: repo });
    expect(keys.stdout).toMatch(/^lab\.key\nlab\.key\.retired-\d{8}T\d{6}\n600\n$/);
    const d = await ops(['deploy', 'lab'], { cwd: repo });
    expect(d.code, d.stdout + d.stderr).toBe(0);
    made = /new key ([0-9A-F]{40})/.exec(r.stderr)?.[1] ?? '';
  });

  it('a rekey interrupted after the pillar was written (the new key prepared, not yet current) is finished by running it again', async () => {
    // the master as such an interruption leaves it: the new key still <env>.key.next, the old one current
    const back = await ops(['run', 'lab', '--host', 'lab-1', '--', 'cd /etc/ops/keys && old=$(ls lab.key.retired-* | sort | tail -1) && mv lab.key lab.key.next && mv "$old" lab.key'], { cwd: repo });
    expect(back.code, back.stderr).toBe(0);
    expect((await ops(['decrypt', 'lab', 'DB_PASSWORD'], { cwd: repo })).stdout).toBe(canary);
    const r = await ops(['rekey', 'lab'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`new key ${made} made on the master`);
    const keys = await ops(['run', 'lab', '--host', 'lab-1', '--', 'ls /etc/ops/keys'], { cwd: repo });
    expect(keys.stdout).toMatch(/^lab\.key\nlab\.key\.retired-\d{8}T\d{6}\n$/);
    expect((await ops(['decrypt', 'lab', 'DB_PASSWORD'], { cwd: repo })).stdout).toBe(canary);
  });

  it('fails closed on the master too: a value it cannot decrypt stops decrypt and deploy (exit 2), naming the key', async () => {
    const other = tempRepo();
    expect((await ops(['keygen', 'lab'], { cwd: other })).code).toBe(0);
    const foreign = await ops(['encrypt', 'lab', 'FOREIGN=x'], { cwd: other });
    const file = join(repo, '.ops/pillar/lab.yml');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace(/^secrets:\n/m, `secrets:\n${foreign.stdout.replace(/^/gm, '  ').trimEnd()}\n`));
    try {
      const r = await ops(['decrypt', 'lab'], { cwd: repo });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/secrets\.FOREIGN does not decrypt/);
      expect(r.stdout).toBe('');
      const d = await ops(['deploy', 'lab'], { cwd: repo });
      expect(d.code).toBe(2);
      expect(d.stdout + d.stderr).toMatch(/secrets\.FOREIGN does not decrypt/);
    } finally {
      writeFileSync(file, original);
    }
  });
});
