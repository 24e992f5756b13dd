/**
 * Pinned host keys, in OpenSSH known_hosts format (so plain `ssh -o UserKnownHostsFile=…` can
 * use the same files): `pillar/known_hosts` (committed) and `.ops/known_hosts` (lab, generated).
 * Hashed entries (`|1|salt|hash`) are understood; ops writes plain ones.
 */
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../fsutil.js';

export interface PinnedKey {
  type: string;
  blob: Buffer;
  file: string;
  line: number;
}

/** `addr` for port 22, `[addr]:port` otherwise — the form OpenSSH looks up. */
export function hostPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, …). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

function matchesHost(field: string, pattern: string): boolean {
  for (const h of field.split(',')) {
    if (h.startsWith('|1|')) {
      const [, , salt, hash] = h.split('|');
      if (!salt || !hash) continue;
      const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(pattern).digest('base64');
      if (mac === hash) return true;
    } else if (h === pattern) return true;
  }
  return false;
}

export class KnownHosts {
  private constructor(private readonly entries: { hosts: string; type: string; blob: Buffer; file: string; line: number; revoked: boolean }[]) {}

  static load(files: readonly string[]): KnownHosts {
    const entries: { hosts: string; type: string; blob: Buffer; file: string; line: number; revoked: boolean }[] = [];
    for (const file of files) {
      if (!existsSync(file)) continue;
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((raw, i) => {
          const line = raw.trim();
          if (!line || line.startsWith('#')) return;
          let parts = line.split(/\s+/);
          let revoked = false;
          if (parts[0]?.startsWith('@')) {
            if (parts[0] === '@revoked') revoked = true;
            else if (parts[0] === '@cert-authority') return;
            parts = parts.slice(1);
          }
          const [hosts, type, b64] = parts;
          if (!hosts || !type || !b64) return;
          entries.push({ hosts, type, blob: Buffer.from(b64, 'base64'), file, line: i + 1, revoked });
        });
    }
    return new KnownHosts(entries);
  }

  /** Pinned (non-revoked) keys for the host. */
  lookup(host: string, port: number): PinnedKey[] {
    const pattern = hostPattern(host, port);
    return this.entries.filter((e) => !e.revoked && matchesHost(e.hosts, pattern)).map(({ type, blob, file, line }) => ({ type, blob, file, line }));
  }

  isRevoked(blob: Buffer): boolean {
    return this.entries.some((e) => e.revoked && e.blob.equals(blob));
  }

  /** Appends a pin (and remembers it for this run). */
  pin(file: string, host: string, port: number, blob: Buffer): void {
    const type = keyType(blob);
    const line = `${hostPattern(host, port)} ${type} ${blob.toString('base64')}\n`;
    mkdirSync(dirname(file), { recursive: true });
    appendFileSync(file, line);
    this.entries.push({ hosts: hostPattern(host, port), type, blob, file, line: 0, revoked: false });
  }
}

/**
 * Drops the pins of one host from a known_hosts file (a machine replaced at the same address);
 * lines that name other hosts too, revocations and comments are kept. Returns how many went.
 */
export function unpinHost(file: string, host: string, port: number): number {
  if (!existsSync(file)) return 0;
  const pattern = hostPattern(host, port);
  const lines = readFileSync(file, 'utf8').split('\n');
  const kept = lines.filter((l) => {
    const [hosts, ...rest] = l.trim().split(/\s+/);
    return hosts === undefined || hosts.startsWith('#') || hosts.startsWith('@') || rest.length < 2 || hosts !== pattern;
  });
  if (kept.length !== lines.length) writeFileAtomic(file, kept.join('\n'));
  return lines.length - kept.length;
}

export type HostKeyVerdict =
  | { ok: true }
  | { ok: false; reason: 'unknown'; fingerprint: string; type: string }
  | { ok: false; reason: 'changed'; fingerprint: string; type: string; pinned: PinnedKey[] }
  | { ok: false; reason: 'revoked'; fingerprint: string; type: string };

/** Checks a presented host key against the pins. An unknown key is never accepted here. */
export function verifyHostKey(known: KnownHosts, host: string, port: number, blob: Buffer): HostKeyVerdict {
  const fp = fingerprint(blob);
  const type = keyType(blob);
  if (known.isRevoked(blob)) return { ok: false, reason: 'revoked', fingerprint: fp, type };
  const pinned = known.lookup(host, port);
  if (pinned.some((p) => p.blob.equals(blob))) return { ok: true };
  if (pinned.length === 0) return { ok: false, reason: 'unknown', fingerprint: fp, type };
  return { ok: false, reason: 'changed', fingerprint: fp, type, pinned };
}
