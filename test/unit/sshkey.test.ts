import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
});
