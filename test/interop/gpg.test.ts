/**
 * Interop with real GnuPG 2.2 (Debian's gnupg), both directions, including the older message
 * forms a seed-era pillar holds.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ops, tempRepo } from '../support/ops.js';

let home: string;

function gpg(args: string[], input?: string | Buffer): Buffer {
  const r = spawnSync('gpg', ['--homedir', home, '--batch', '--yes', '--pinentry-mode', 'loopback', ...args], { input });
  if (r.status !== 0) throw new Error(`gpg ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout;
}

function indent(armored: string): string {
  return armored.trimEnd().split('\n').map((l) => (l ? `    ${l}` : '')).join('\n');
}

/** A new environment whose pillar holds one secret, written the way the seed's workflow wrote it. */
function addSecret(repo: string, env: string, name: string, armored: string): void {
  writeFileSync(join(repo, 'pillar', `${env}.yml`), `domain: ${env}.example\nsecrets:\n  "${name}": |-\n${indent(armored)}\n`);
}

beforeAll(() => {
  const version = execFileSync('gpg', ['--version']).toString().split('\n')[0] ?? '';
  expect(version, 'these tests need GnuPG 2.2 (apt-get install gnupg)').toMatch(/^gpg \(GnuPG\) 2\.2\./);
  home = mkdtempSync(join(tmpdir(), 'ops-gnupg-'));
  execFileSync('chmod', ['700', home]);
  // Like `gpg --gen-key`: a signing primary key and an encryption subkey (the seed's RSA/RSA).
  const makeKey = (uid: string, primary: string, sub: string, passphrase = '') => {
    gpg(['--passphrase', passphrase, '--quick-gen-key', uid, primary, 'sign,cert', 'never']);
    const fpr = gpg(['--list-keys', '--with-colons', uid]).toString().match(/^fpr:+([0-9A-F]+):/m)?.[1] ?? '';
    gpg(['--passphrase', passphrase, '--quick-add-key', fpr, sub, 'encr', 'never']);
  };
  makeKey('rsa2048 <rsa2048@ops.test>', 'rsa2048', 'rsa2048');
  makeKey('rsa3072 <rsa3072@ops.test>', 'rsa3072', 'rsa3072');
  makeKey('ed25519 <ed25519@ops.test>', 'ed25519', 'cv25519');
  makeKey('protected <protected@ops.test>', 'rsa2048', 'rsa2048', 'pass phrase ✓');
});

afterAll(() => {
  // gpg starts an agent per home folder; do not leave them behind.
  if (home) spawnSync('gpgconf', ['--homedir', home, '--kill', 'all']);
});

describe('gpg decrypts what ops encrypts', () => {
  it('refuses a sign-only public key with one clear line (exit 2)', async () => {
    const repo = tempRepo();
    gpg(['--passphrase', '', '--quick-gen-key', 'signonly <signonly@ops.test>', 'ed25519', 'sign', 'never']);
    writeFileSync(join(repo, 'pillar', 'staging.pub.gpg'), gpg(['--export', 'signonly@ops.test']));
    const r = await ops(['encrypt', 'staging', 'A=b'], { cwd: repo });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pillar\/staging\.pub\.gpg has no usable encryption key/);
  });

  it('with an ops-made key (ops keygen) imported into gpg', async () => {
    const repo = tempRepo();
    expect((await ops(['keygen', 'lab'], { cwd: repo })).code).toBe(0);
    gpg(['--import', join(repo, '.ops/keys/lab.key')]);
    const value = 'from ops: ünï "q" $x\nline 2';
    const r = await ops(['encrypt', 'lab', 'V'], { cwd: repo, input: value });
    const armored = r.stdout.split('\n').slice(1).map((l) => l.replace(/^ {2}/, '')).join('\n');
    expect(gpg(['--decrypt'], armored).toString()).toBe(value);
  });

  for (const [uid, format] of [
    ['rsa2048@ops.test', 'binary'],
    ['rsa2048@ops.test', 'armored'],
    ['rsa3072@ops.test', 'armored'],
    ['ed25519@ops.test', 'binary'],
    ['ed25519@ops.test', 'armored'],
  ] as const) {
    it(`to a gpg-made ${uid.split('@')[0]} public key (${format}, as pillar/<env>.pub.gpg)`, async () => {
      const repo = tempRepo();
      const exported = gpg(format === 'armored' ? ['--armor', '--export', uid] : ['--export', uid]);
      writeFileSync(join(repo, 'pillar', 'staging.pub.gpg'), exported);
      const r = await ops(['encrypt', 'staging', 'SECRET_KEY', '--write'], { cwd: repo, input: `value for ${uid}` });
      expect(r.code, r.stderr).toBe(0);
      const block = (parse(readFileSync(join(repo, 'pillar/staging.yml'), 'utf8')) as { secrets: Record<string, string> }).secrets.SECRET_KEY;
      expect(gpg(['--decrypt'], block).toString()).toBe(`value for ${uid}`);
    });
  }
});

describe('ops decrypts what gpg encrypts, with a gpg-exported secret key', () => {
  const cases: [string, string[]][] = [
    ['default settings', []],
    ['CAST5 cipher (seed era)', ['--cipher-algo', 'CAST5']],
    ['ZIP compression', ['--compress-algo', 'zip']],
    ['ZLIB compression', ['--compress-algo', 'zlib']],
    ['CAST5 + ZLIB, like GnuPG 1.4', ['--cipher-algo', 'CAST5', '--compress-algo', 'zlib', '--s2k-cipher-algo', 'CAST5']],
  ];
  for (const [label, extra] of cases) {
    it(`RSA-2048, ${label}`, async () => {
      const repo = tempRepo();
      const value = `secret for ${label} ✓`;
      const armored = gpg(['--armor', '--trust-model', 'always', ...extra, '--recipient', 'rsa2048@ops.test', '--encrypt'], value).toString();
      addSecret(repo, 'interop', 'SECRET_KEY', armored);
      const keyFile = join(repo, 'staging.sec');
      writeFileSync(keyFile, gpg(['--passphrase', '', '--export-secret-keys', 'rsa2048@ops.test']), { mode: 0o600 });
      const r = await ops(['decrypt', 'interop', 'SECRET_KEY', '--key', keyFile], { cwd: repo });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(value);
    });
  }

  it('cv25519 key, armored secret key export', async () => {
    const repo = tempRepo();
    const armored = gpg(['--armor', '--trust-model', 'always', '--recipient', 'ed25519@ops.test', '--encrypt'], 'curve value').toString();
    addSecret(repo, 'interop', 'K', armored);
    const keyFile = join(repo, 'staging.asc');
    writeFileSync(keyFile, gpg(['--armor', '--passphrase', '', '--export-secret-keys', 'ed25519@ops.test']), { mode: 0o600 });
    const r = await ops(['decrypt', 'interop', 'K', '--key', keyFile], { cwd: repo });
    expect(r.stdout).toBe('curve value');
  });

  it('a passphrase-protected secret key: OPS_KEY_PASSPHRASE works, a wrong or missing one is exit 2', async () => {
    const repo = tempRepo();
    const armored = gpg(['--armor', '--trust-model', 'always', '--recipient', 'protected@ops.test', '--encrypt'], 'behind a passphrase').toString();
    addSecret(repo, 'interop', 'K', armored);
    const keyFile = join(repo, 'protected.sec');
    writeFileSync(keyFile, gpg(['--passphrase', 'pass phrase ✓', '--export-secret-keys', 'protected@ops.test']), { mode: 0o600 });
    const ok = await ops(['decrypt', 'interop', 'K'], { cwd: repo, env: { OPS_KEY_FILE: keyFile, OPS_KEY_PASSPHRASE: 'pass phrase ✓' } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('behind a passphrase');
    const wrong = await ops(['decrypt', 'interop', 'K'], { cwd: repo, env: { OPS_KEY_FILE: keyFile, OPS_KEY_PASSPHRASE: 'nope' } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/wrong passphrase/);
    const none = await ops(['decrypt', 'interop', 'K'], { cwd: repo, env: { OPS_KEY_FILE: keyFile } });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/protected by a passphrase/);
    expect(none.stderr).toMatch(/OPS_KEY_PASSPHRASE/);
  });

  it('a seed-style .sls pillar with #!yaml|gpg loads and decrypts', async () => {
    const repo = tempRepo();
    const armored = gpg(['--armor', '--trust-model', 'always', '--cipher-algo', 'CAST5', '--recipient', 'rsa2048@ops.test', '--encrypt'], 'seed secret').toString();
    writeFileSync(join(repo, 'pillar/legacy.sls'), `#!yaml|gpg\n\nenvironment: legacy\n`.replace('environment: legacy\n', '') + `secrets:\n  "SECRET_KEY": |-\n${indent(armored)}\n`);
    writeFileSync(join(repo, 'legacy.sec'), gpg(['--passphrase', '', '--export-secret-keys', 'rsa2048@ops.test']), { mode: 0o600 });
    const r = await ops(['decrypt', 'legacy', 'SECRET_KEY', '--key', join(repo, 'legacy.sec')], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('seed secret');
  });
});
