/**
 * The operator's GnuPG as a decryptor: for each message, gpg (with its agent, a smartcard, the
 * user's keyring — GNUPGHOME as gpg reads it) decrypts the session key and hands it over on a
 * status pipe; ops decrypts the message itself with it. The private key never leaves GnuPG, the
 * plaintext gpg makes goes to /dev/null, and nothing secret is in any argv.
 */
import { spawn } from 'node:child_process';
import { UsageError } from '../errors.js';
import type { SessionKey } from './pgp.js';

export type GpgAnswer = { ok: true; sessionKey: SessionKey } | { ok: false; why: string };

const GPG_ARGS = ['--batch', '--yes', '--quiet', '--status-fd', '3', '--show-session-key', '--output', '/dev/null', '--decrypt'];

/** Asks gpg for the session key of one armored message. */
export function gpgSessionKey(armored: string, gpg = process.env.OPS_GPG ?? 'gpg'): Promise<GpgAnswer> {
  return new Promise((resolve, reject) => {
    // gpg's words in English, so that its line naming the session key is known and never shown
    const child = spawn(gpg, GPG_ARGS, { stdio: ['pipe', 'ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANGUAGE: 'C' } });
    let status = '';
    let err = '';
    child.stdio[3]?.on('data', (b: Buffer) => (status += b.toString('latin1')));
    child.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new UsageError(`GnuPG is not installed here (no ${gpg})`, 'install it (apt install gnupg), or give the recovery key as a file with --key FILE'));
      else reject(new UsageError(`cannot start ${gpg}: ${e.message}`));
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`${armored.trim()}\n`);
    child.on('close', (code) => {
      const lines = status.split('\n');
      const sk = lines.map((l) => /^\[GNUPG:\] SESSION_KEY (\d+):([0-9A-Fa-f]+)$/.exec(l.trim())).find((m) => m !== null);
      if (sk && code === 0) return resolve({ ok: true, sessionKey: { algorithm: Number(sk[1]), data: Buffer.from(sk[2] ?? '', 'hex') } });
      // the keys it lacks: NO_SECKEY when it knows the public key, else only the message's ENC_TO ids
      const ids = (re: RegExp) => lines.flatMap((l) => re.exec(l)?.[1] ?? []);
      const noKey = /No secret key/i.test(err);
      const missing = ids(/^\[GNUPG:\] NO_SECKEY ([0-9A-F]+)/).length > 0 ? ids(/^\[GNUPG:\] NO_SECKEY ([0-9A-F]+)/) : noKey ? ids(/^\[GNUPG:\] ENC_TO ([0-9A-F]+)/) : [];
      // gpg's own words, without its line naming the session key
      const said = (sk ? '' : err)
        .split('\n')
        .map((l) => l.replace(/^gpg: /, '').trim())
        .filter((l) => l !== '' && !/session key/i.test(l))
        .pop();
      resolve({ ok: false, why: missing.length > 0 ? `GnuPG holds no secret key for ${missing.join(', ')}` : (said ?? `gpg exited ${code}`) });
    });
  });
}
