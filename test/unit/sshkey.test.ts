import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateEd25519 } from '../../src/secrets/sshkey.js';

describe('generateEd25519', () => {
  it('produces a private key OpenSSH accepts, whose public half matches', () => {
    const pair = generateEd25519('demo-staging-deploy');
    expect(pair.privatePem).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    // The test (not ops) writes the key to a private temp file for ssh-keygen to read.
    const dir = mkdtempSync(join(tmpdir(), 'ops-sshkey-'));
    const file = join(dir, 'id');
    writeFileSync(file, pair.privatePem, { mode: 0o600 });
    const derived = execFileSync('ssh-keygen', ['-y', '-f', file]).toString().trim();
    rmSync(dir, { recursive: true });
    expect(pair.publicLine.startsWith(derived.split(' ').slice(0, 2).join(' '))).toBe(true);
    expect(pair.publicLine.endsWith(' demo-staging-deploy')).toBe(true);
  });

  it('every key loads in ssh2, the SSH library ops connects with (the generator of ssh2 1.17 failed this 5 times in 1291)', () => {
    const bad: string[] = [];
    for (let i = 0; i < 200; i++) {
      const pair = generateEd25519(`key-${i}`.repeat((i % 7) + 1));
      const parsed = ssh2.utils.parseKey(pair.privatePem);
      if (parsed instanceof Error) bad.push(`${i}: ${parsed.message}`);
      else if (!(Array.isArray(parsed) ? parsed[0] : parsed)?.getPublicSSH().equals(Buffer.from(pair.publicLine.split(' ')[1] ?? '', 'base64'))) bad.push(`${i}: public half differs`);
    }
    expect(bad).toEqual([]);
  });

  it('refuses a comment that would add a line to authorized_keys', () => {
    expect(() => generateEd25519('a\nssh-ed25519 AAAA evil')).toThrow(/one line/);
  });
});
