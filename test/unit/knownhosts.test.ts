import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprint, hostPattern, KnownHosts, keyType, verifyHostKey } from '../../src/ssh/knownhosts.js';

function hostKey(dir: string, name: string): { blob: Buffer; line: string; fp: string } {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, name)]);
  const line = readFileSync(join(dir, `${name}.pub`), 'utf8').trim();
  const fp = execFileSync('ssh-keygen', ['-l', '-f', join(dir, `${name}.pub`)]).toString().split(' ')[1] ?? '';
  return { blob: Buffer.from(line.split(' ')[1] ?? '', 'base64'), line, fp };
}

describe('known_hosts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-kh-'));
  const a = hostKey(dir, 'a');
  const b = hostKey(dir, 'b');

  it('computes the same SHA256 fingerprint as ssh-keygen', () => {
    expect(fingerprint(a.blob)).toBe(a.fp);
    expect(keyType(a.blob)).toBe('ssh-ed25519');
  });

  it('accepts a pinned key, refuses unknown and changed keys', () => {
    const file = join(dir, 'known_hosts');
    writeFileSync(file, `# pinned by ops\n10.0.0.5 ${a.line.split(' ').slice(0, 2).join(' ')}\n[10.0.0.6]:2222 ${a.line.split(' ').slice(0, 2).join(' ')}\n`);
    const kh = KnownHosts.load([file, join(dir, 'missing')]);
    expect(verifyHostKey(kh, '10.0.0.5', 22, a.blob)).toEqual({ ok: true });
    expect(verifyHostKey(kh, '10.0.0.6', 2222, a.blob)).toEqual({ ok: true });
    expect(verifyHostKey(kh, '10.0.0.6', 22, a.blob)).toMatchObject({ ok: false, reason: 'unknown', fingerprint: a.fp });
    const changed = verifyHostKey(kh, '10.0.0.5', 22, b.blob);
    expect(changed).toMatchObject({ ok: false, reason: 'changed', fingerprint: b.fp });
  });

  it('writes pins OpenSSH itself accepts, and reads hashed entries', () => {
    const file = join(dir, 'pins');
    const kh = KnownHosts.load([file]);
    kh.pin(file, '192.0.2.7', 22, a.blob);
    kh.pin(file, '192.0.2.8', 2200, b.blob);
    expect(verifyHostKey(KnownHosts.load([file]), '192.0.2.8', 2200, b.blob)).toEqual({ ok: true });
    // ssh-keygen -F finds what we wrote
    expect(execFileSync('ssh-keygen', ['-F', '192.0.2.7', '-f', file]).toString()).toContain('ssh-ed25519');
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const hashed = readFileSync(file, 'utf8');
    expect(hashed).toMatch(/^\|1\|/m);
    expect(verifyHostKey(KnownHosts.load([file]), '192.0.2.7', 22, a.blob)).toEqual({ ok: true });
    expect(hostPattern('h', 22)).toBe('h');
  });
});
