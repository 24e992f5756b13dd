/**
 * A Salt master's environment key, taken into ops's key store on that host (runs on the master,
 * as root). The Caktus template's `setup_master` made each environment's keypair in Salt's GnuPG
 * home, where Salt's gpg renderer reads it; every ciphertext of the project is encrypted to it.
 * The key is exported by GnuPG from a copy of that home (Salt's own files are never written) and
 * read in memory; it never leaves the host.
 */
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { OperationError, UsageError } from '../errors.js';
import { runLocal } from '../util/proc.js';
import { fingerprintOf, readPrivateKey, type PrivateKey } from '../secrets/pgp.js';
import { MASTER_DIR, MASTER_KEYS } from './paths.js';

/** Where Salt's gpg renderer keeps its keys (its `gpg_keydir`, as the template's fabfile made it). */
export const SALT_GPG_HOME = '/etc/salt/gpgkeys';

interface SecretKeyListing {
  fingerprint: string;
  uid: string;
}

/** GnuPG run on a copy of Salt's home, removed (with its agent) when `fn` ends. */
async function withSaltHomeCopy<T>(fn: (gpg: (args: string[]) => Promise<string>) => Promise<T>): Promise<T> {
  if (!existsSync(SALT_GPG_HOME) || !statSync(SALT_GPG_HOME).isDirectory()) {
    throw new UsageError(`this host has no Salt GnuPG home (${SALT_GPG_HOME})`, "--adopt-salt is for the Salt master whose setup_master made the environment's key there");
  }
  const copy = mkdtempSync(join(MASTER_DIR, '.salt-gnupg-'));
  const home = join(copy, 'home');
  try {
    cpSync(SALT_GPG_HOME, home, { recursive: true, preserveTimestamps: true, filter: (src) => !/\/S\.[^/]*$/.test(src) });
    const gpg = async (args: string[]) => {
      const r = await runLocal('gpg', ['--homedir', home, '--batch', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], { timeoutMs: 60_000, maxBytes: 4 * 1024 * 1024 });
      if (r.code !== 0) {
        const why = r.stderr.trim().split('\n').slice(-2).join(' | ');
        throw new OperationError(`GnuPG could not read Salt's key store (${SALT_GPG_HOME}): ${why}`);
      }
      return r.stdout;
    };
    return await fn(gpg);
  } finally {
    await runLocal('gpgconf', ['--homedir', home, '--kill', 'all'], { timeoutMs: 10_000 }).catch(() => undefined);
    rmSync(copy, { recursive: true, force: true });
  }
}

function secretKeys(colons: string): SecretKeyListing[] {
  const keys: SecretKeyListing[] = [];
  let inPrimary = false;
  for (const line of colons.split('\n')) {
    const f = line.split(':');
    if (f[0] === 'sec') {
      keys.push({ fingerprint: '', uid: '' });
      inPrimary = true;
    } else if (f[0] === 'ssb') inPrimary = false;
    const last = keys[keys.length - 1];
    if (!last) continue;
    if (f[0] === 'fpr' && inPrimary && !last.fingerprint) last.fingerprint = (f[9] ?? '').toUpperCase();
    if (f[0] === 'uid' && !last.uid) last.uid = (f[9] ?? '').replace(/\\x3a/g, ':');
  }
  return keys.filter((k) => /^[0-9A-F]{40,64}$/.test(k.fingerprint));
}

const listed = (keys: SecretKeyListing[]) => (keys.length ? keys.map((k) => `${k.fingerprint} (${k.uid.replace(/[^\x20-\x7e]/g, '?')})`).join(', ') : 'no secret key');

/**
 * The private key Salt holds for the environment: the one whose fingerprint is that of the
 * repo's public key for it. Refused, with the keys Salt does hold, when it is not there.
 */
export async function saltPrivateKey(env: string, fingerprint: string): Promise<PrivateKey> {
  const want = fingerprint.toUpperCase();
  if (!/^[0-9A-F]{40,64}$/.test(want)) throw new UsageError(`not a key fingerprint: ${fingerprint}`);
  return withSaltHomeCopy(async (gpg) => {
    const held = secretKeys(await gpg(['--with-colons', '--fingerprint', '--list-secret-keys']));
    if (!held.some((k) => k.fingerprint === want)) {
      throw new UsageError(
        `Salt's key store (${SALT_GPG_HOME}) holds no private key for the environment's public key ${want}: it holds ${listed(held)}`,
        `the repo's public key for '${env}' is not the one this master decrypts with: check you named the master of '${env}' and that pillar/keys/${env}.pub.gpg came from this project's conf/${env}.pub.gpg`,
      );
    }
    const armored = await gpg(['--armor', '--export-secret-keys', want]);
    if (!armored.includes('BEGIN PGP PRIVATE KEY BLOCK')) throw new OperationError(`GnuPG exported nothing for ${want} from ${SALT_GPG_HOME}`);
    const key = await readPrivateKey(Buffer.from(armored), `Salt's key ${want}`, async () => undefined);
    if (fingerprintOf(key) !== want) throw new OperationError(`GnuPG exported a key other than ${want} from ${SALT_GPG_HOME}`);
    // the key must decrypt what was encrypted to it: an encryption subkey with its secret part
    const usable = await key.getDecryptionKeys().then((k) => k.length > 0, () => false);
    if (!usable) throw new UsageError(`Salt's key ${want} has no usable decryption key (its encryption subkey is missing, expired or revoked)`);
    return key;
  });
}

/** Fingerprints of every key in ops's key store, current and retired (read without GnuPG). */
async function storedFingerprints(): Promise<Set<string>> {
  const out = new Set<string>();
  if (!existsSync(MASTER_KEYS)) return out;
  for (const name of readdirSync(MASTER_KEYS)) {
    if (!/\.key(\.|$)/.test(name)) continue;
    try {
      out.add(fingerprintOf(await readPrivateKey(readFileSync(join(MASTER_KEYS, name)), name, async () => undefined)));
    } catch {
      // a file that is not a key of ours holds nothing to compare
    }
  }
  return out;
}

/**
 * Removes Salt's GnuPG home, and nothing else of Salt's — only once every private key in it is
 * in ops's key store (a master that held two environments' keys keeps the second until it too
 * is adopted). Returns what was removed, or nothing when it is gone already.
 */
export async function removeSaltKeys(): Promise<{ removed: string | null; fingerprints: string[] }> {
  if (!existsSync(SALT_GPG_HOME)) return { removed: null, fingerprints: [] };
  const held = await withSaltHomeCopy(async (gpg) => secretKeys(await gpg(['--with-colons', '--fingerprint', '--list-secret-keys'])));
  const stored = await storedFingerprints();
  const missing = held.filter((k) => !stored.has(k.fingerprint));
  if (missing.length > 0) {
    throw new UsageError(
      `Salt's key store (${SALT_GPG_HOME}) holds ${missing.length === 1 ? 'a private key' : 'private keys'} ops does not: ${listed(missing)}; nothing was removed`,
      'adopt each first (ops setup-master ENV -H HOST --adopt-salt, for the environment whose public key it is), then --remove-salt',
    );
  }
  rmSync(SALT_GPG_HOME, { recursive: true });
  return { removed: SALT_GPG_HOME, fingerprints: held.map((k) => k.fingerprint) };
}
