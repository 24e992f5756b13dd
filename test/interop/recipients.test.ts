/**
 * Recovery recipients with real GnuPG 2.2, for an operator-held environment key (no master):
 * every value is one message that the environment key or any recovery key opens alone; audit
 * reads who each value is to; GnuPG hands ops a session key, never the private key.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { gpgSessionKey } from '../../src/secrets/gnupg.js';
import { decryptWithSessionKey, encryptBytes, readPublicKey } from '../../src/secrets/pgp.js';
import { gpgIn as gpg, person, type Person } from '../support/gnupg.js';
import { ops, tempRepo, type RunResult } from '../support/ops.js';

let repo: string;
let alice: string;
let bob: string;
const fprs: Record<string, string> = {};
let bobKey: Person;
const events = (r: RunResult) => r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const secretOf = (name: string) => (parse(readFileSync(join(repo, 'pillar/lab.yml'), 'utf8')) as { secrets: Record<string, string> }).secrets[name] ?? '';
const value = `recipients ✓ "q" $x\nline 2`;

beforeAll(async () => {
  repo = tempRepo();
  expect((await ops(['keygen', 'lab'], { cwd: repo })).code).toBe(0);
  const a = person('alice', 'ed25519', 'cv25519', join(repo, 'alice.asc'), true);
  bobKey = person('bob', 'rsa3072', 'rsa3072', join(repo, 'bob.gpg'), false);
  alice = a.home;
  bob = bobKey.home;
  fprs.bob = bobKey.fingerprint;
  const w = await ops(['encrypt', 'lab', 'V', '--write'], { cwd: repo, input: value });
  expect(w.code, w.stderr).toBe(0);
});

describe('recovery recipients, operator-held key', () => {
  it('rekey --add-recipient: each value opens in GnuPG with one recovery key alone; the environment key is kept', async () => {
    const pub = readFileSync(join(repo, 'pillar/keys/lab.asc'), 'utf8');
    const r = await ops(['rekey', 'lab', '--add-recipient', join(repo, 'alice.asc'), '--add-recipient', join(repo, 'bob.gpg')], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/re-encrypted \d+ value\(s\) in pillar\/lab\.yml to 3 key\(s\)/);
    expect(readFileSync(join(repo, 'pillar/keys/lab.asc'), 'utf8')).toBe(pub);
    expect(readdirSync(join(repo, 'pillar/keys/lab.recovery')).sort()).toEqual(['alice.asc', 'bob.asc']);
    for (const home of [alice, bob]) expect(gpg(home, ['--decrypt'], secretOf('V')).out.toString()).toBe(value);
    expect((await ops(['decrypt', 'lab', 'V'], { cwd: repo })).stdout).toBe(value);
  });

  it('encrypt writes to every recipient; audit shows each value to all three (exit 0)', async () => {
    expect((await ops(['encrypt', 'lab', 'W=new one', '--write'], { cwd: repo })).code).toBe(0);
    expect(gpg(alice, ['--decrypt'], secretOf('W')).out.toString()).toBe('new one');
    const a = await ops(['--json', 'secrets', 'audit', 'lab'], { cwd: repo });
    expect(a.code, a.stderr).toBe(0);
    const rows = events(a).filter((e) => e.type === 'secret');
    expect(rows.map((e) => e.name).sort()).toEqual(expect.arrayContaining(['V', 'W']));
    for (const row of rows) expect(row).toMatchObject({ to: ['master', 'alice.asc', 'bob.asc'], missing: [], unknown: [], ok: true });
  });

  it('audit flags a value that misses a listed key, and one encrypted to a key no longer listed (exit 1); --keep-key puts it right', async () => {
    const carol = join(repo, 'carol.asc');
    fprs.carol = person('carol', 'ed25519', 'cv25519', carol, true).fingerprint;
    mkdirSync(join(repo, 'pillar/keys/lab.recovery'), { recursive: true });
    writeFileSync(join(repo, 'pillar/keys/lab.recovery/carol.asc'), readFileSync(carol));
    const a = await ops(['--json', 'secrets', 'audit', 'lab'], { cwd: repo });
    expect(a.code).toBe(1);
    expect(events(a).find((e) => e.name === 'V')).toMatchObject({ missing: ['carol.asc'], ok: false });
    const human = await ops(['secrets', 'audit', 'lab'], { cwd: repo });
    expect(human.stdout).toMatch(/✗ V \(pillar\/lab\.yml\): master, alice\.asc, bob\.asc — not to carol\.asc/);
    const fixed = await ops(['rekey', 'lab', '--keep-key'], { cwd: repo });
    expect(fixed.code, fixed.stderr).toBe(0);
    expect((await ops(['secrets', 'audit', 'lab'], { cwd: repo })).code).toBe(0);
    // bob's file removed by hand: the values still name his key
    execFileSync('rm', [join(repo, 'pillar/keys/lab.recovery/bob.asc')]);
    const stale = await ops(['--json', 'secrets', 'audit', 'lab'], { cwd: repo });
    expect(stale.code).toBe(1);
    const row = events(stale).find((e) => e.name === 'V') as { unknown: string[] };
    expect(row.unknown).toEqual([bobKey.subkeyId]);
  });

  it('rekey --remove-recipient: the values are no longer to that key; bad fingerprints are refused (exit 2)', async () => {
    expect((await ops(['rekey', 'lab', '--keep-key'], { cwd: repo })).code).toBe(0);
    const r = await ops(['rekey', 'lab', '--remove-recipient', fprs.carol ?? ''], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(join(repo, 'pillar/keys/lab.recovery'))).toEqual(['alice.asc']);
    const a = await ops(['--json', 'secrets', 'audit', 'lab'], { cwd: repo });
    expect(a.code, a.stdout).toBe(0);
    expect(events(a).find((e) => e.name === 'V')).toMatchObject({ to: ['master', 'alice.asc'] });
    expect(gpg(bob, ['--decrypt'], secretOf('V')).code).not.toBe(0);
    // alice's new key, in a file of the same name: the old one removed, the new one kept
    const renewed = join(repo, 'new', 'alice.asc');
    mkdirSync(join(repo, 'new'), { recursive: true });
    const alice2 = person('alice2', 'ed25519', 'cv25519', renewed, true);
    const oldAlice = (await readPublicKey(readFileSync(join(repo, 'pillar/keys/lab.recovery/alice.asc')), 'alice')).getFingerprint().toUpperCase();
    const swap = await ops(['rekey', 'lab', '--remove-recipient', oldAlice, '--add-recipient', renewed], { cwd: repo });
    expect(swap.code, swap.stderr).toBe(0);
    expect(readFileSync(join(repo, 'pillar/keys/lab.recovery/alice.asc'), 'utf8')).toMatch(/BEGIN PGP PUBLIC KEY BLOCK/);
    expect(gpg(alice2.home, ['--decrypt'], secretOf('V')).out.toString()).toBe(value);
    expect(gpg(alice, ['--decrypt'], secretOf('V')).code).not.toBe(0);
    expect((await ops(['secrets', 'audit', 'lab'], { cwd: repo })).code).toBe(0);
    for (const [arg, msg] of [
      ['not-hex', /is not a fingerprint/],
      [fprs.bob ?? '', /is not a recovery key of 'lab'/],
    ] as const) {
      const bad = await ops(['rekey', 'lab', '--remove-recipient', arg], { cwd: repo });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(msg);
    }
  });

  it("GnuPG gives the session key of a message to a key it holds, and names the key it lacks otherwise", async () => {
    const key = await readPublicKey(readFileSync(join(repo, 'alice.asc')), 'alice.asc');
    const armored = await encryptBytes(key, Buffer.from('by session key'));
    const prev = process.env.GNUPGHOME;
    try {
      process.env.GNUPGHOME = alice;
      const ok = await gpgSessionKey(armored);
      expect(ok.ok).toBe(true);
      if (ok.ok) expect(Buffer.from(await decryptWithSessionKey(armored, ok.sessionKey)).toString()).toBe('by session key');
      process.env.GNUPGHOME = bob;
      const no = await gpgSessionKey(armored);
      expect(no).toMatchObject({ ok: false, why: expect.stringMatching(/^GnuPG holds no secret key for [0-9A-F]{16}/) });
    } finally {
      if (prev === undefined) delete process.env.GNUPGHOME;
      else process.env.GNUPGHOME = prev;
    }
  });
});
